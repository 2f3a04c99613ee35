"""A corpus of names and values (issue 12): each line with the row value it must become or its quarantine reason.

Classes: `case_merge` (spellings of one name across records share one column), `case_collision` (two keys equal
ignoring case in one object), `dotted` (a top-level key "p.q" is not the nested p -> q), `reserved` (top-level
`dt` and metadata names in any case), `timestamp_text` (strings kept byte for byte where strings win),
`timestamp_all` (a field of ISO date-times only becomes a timestamp, the instant kept).

Every case uses its own column names (prefix `cNNN_`) so that the cases can share one batch; the lines are raw
JSON text (duplicate keys and exact strings cannot go through json.dumps). `rows[i]` is the row line i becomes
({column: value as pyarrow reads it back}; timestamps as ISO strings compared as instants), or None when it is
quarantined with `reasons[i]`. `columns` maps each expected output column to its Arrow type (str).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    ident: str
    kind: str
    lines: list[str]
    rows: list[dict[str, Any] | None]
    reasons: list[str | None]
    columns: dict[str, str] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # names that must not be output columns


CASES: list[Case] = []


def _add(kind: str, body: list[tuple[str, dict[str, Any] | str]], columns: dict[str, str], absent=()) -> None:
    """body: (line text with {p} for the case prefix, expected row or reason kind)."""
    ident = f"c{len(CASES):03d}_"
    lines, rows, reasons = [], [], []
    for number, (text, outcome) in enumerate(body):
        text = text.replace("{p}", ident)
        case_id = json.dumps(f"{ident}{number}")
        lines.append('{"case_id":' + case_id + ("," + text[1:] if text != "{}" else "}"))
        if isinstance(outcome, str):
            rows.append(None)
            reasons.append(outcome)
        else:
            rows.append({k.replace("{p}", ident): v for k, v in outcome.items()})
            reasons.append(None)
    CASES.append(
        Case(
            ident,
            kind,
            lines,
            rows,
            reasons,
            {k.replace("{p}", ident): v for k, v in columns.items()},
            [a.replace("{p}", ident) for a in absent],
        )
    )


# ------------------------------------------------------------------------------------- case_merge (~30 cases)
# (spellings with how many records use each) -> the column is spelled as the most records spell it, ties: the
# smallest in code-point order ("ID" < "Id" < "iD" < "id").
_MERGES = [
    [("id", 2), ("ID", 1)],
    [("ID", 2), ("id", 1)],
    [("id", 1), ("ID", 1)],
    [("Amount", 1), ("amount", 1)],
    [("amount", 3), ("Amount", 1)],
    [("userId", 1), ("userid", 1), ("USERID", 1)],
    [("userid", 2), ("userId", 1), ("USERID", 1)],
    [("k", 1), ("K", 1)],
    [("Name", 1), ("NAME", 2), ("name", 1)],
    [("eventType", 2), ("EventType", 2), ("eventtype", 1)],
]
for spellings in _MERGES:
    ranked = sorted(spellings, key=lambda s: (-s[1], "{p}" + s[0]))
    chosen = "{p}" + ranked[0][0]
    for value_kind in ("int", "str", "float"):
        body: list[tuple[str, dict[str, Any] | str]] = []
        number = 0
        for spelling, count in spellings:
            for _ in range(count):
                number += 1
                value: Any = {"int": number, "str": f"v{number}", "float": number + 0.5}[value_kind]
                body.append((f'{{"{{p}}{spelling}":{json.dumps(value)}}}', {chosen: value}))
        others = ["{p}" + s for s, _ in spellings if "{p}" + s != chosen]
        arrow = {"int": "int64", "str": "string", "float": "double"}[value_kind]
        _add("case_merge", body, {chosen: arrow}, others)

# nested spellings merge too, at every level
_add(
    "case_merge",
    [
        ('{"{p}obj":{"k":1}}', {"{p}obj": {"k": 1}}),
        ('{"{p}obj":{"K":2}}', {"{p}obj": {"k": 2}}),
        ('{"{p}OBJ":{"k":3}}', {"{p}obj": {"k": 3}}),
    ],
    {"{p}obj": "struct<k: int64>"},
    ["{p}OBJ"],
)
_add(
    "case_merge",
    [
        ('{"{p}l":[{"Ab":1}]}', {"{p}l": [{"Ab": 1}]}),
        ('{"{p}l":[{"ab":2},{"Ab":3}]}', {"{p}l": [{"Ab": 2}, {"Ab": 3}]}),
    ],
    {"{p}l": "list<item: struct<Ab: int64>>"},
)
# a spelling whose values lose the type vote: converted when lossless, else quarantined
_add(
    "case_merge",
    [
        ('{"{p}Amount":1}', {"{p}Amount": 1.0}),
        ('{"{p}Amount":2.5}', {"{p}Amount": 2.5}),
        ('{"{p}amount":"12.50"}', {"{p}Amount": 12.5}),
        ('{"{p}amount":"n/a"}', "type_conflict"),
    ],
    {"{p}Amount": "double"},
    ["{p}amount"],
)

# ---------------------------------------------------------------------------------- case_collision (~20 cases)
for left, right in [("id", "ID"), ("Amount", "amount"), ("a", "A"), ("userId", "USERID"), ("x", "X")]:
    _add(
        "case_collision",
        [
            (f'{{"{{p}}{left}":1,"{{p}}{right}":2}}', "case_collision"),
            (f'{{"{{p}}{left}":3}}', {"{p}" + left: 3}),
        ],
        {"{p}" + left: "int64"},
        ["{p}" + right],
    )
    _add(  # nested
        "case_collision",
        [
            (f'{{"{{p}}o":{{"{left}":1,"{right}":"two"}}}}', "case_collision"),
            (f'{{"{{p}}o":{{"{left}":4}}}}', {"{p}o": {left: 4}}),
        ],
        {"{p}o": f"struct<{left}: int64>"},
    )
    _add(  # inside a list item
        "case_collision",
        [
            (f'{{"{{p}}l":[{{"{left}":1}},{{"{left}":1,"{right}":2}}]}}', "case_collision"),
            (f'{{"{{p}}l":[{{"{right}":5}}]}}', {"{p}l": [{right: 5}]}),
            (f'{{"{{p}}l":[{{"{right}":6}}]}}', {"{p}l": [{right: 6}]}),
        ],
        {"{p}l": f"list<item: struct<{right}: int64>>"},
    )
    _add(  # several in one record, with other fields
        "case_collision",
        [
            (f'{{"{{p}}{left}":"s","z":1,"{{p}}{right}":"t"}}', "case_collision"),
            (f'{{"{{p}}{right}":"u"}}', {"{p}" + right: "u"}),
        ],
        {"{p}" + right: "string"},
        ["{p}" + left],
    )

# ---------------------------------------------------------------------------------------- dotted (~10 cases)
_add(
    "dotted",
    [
        ('{"{p}p.q":1}', {"{p}p.q": 1, "{p}p": None}),
        ('{"{p}p":{"q":"x"}}', {"{p}p.q": None, "{p}p": {"q": "x"}}),
    ],
    {"{p}p.q": "int64", "{p}p": "struct<q: string>"},
)
_add(
    "dotted",
    [
        ('{"{p}p.q":"text"}', {"{p}p.q": "text"}),
        ('{"{p}p":{"q":2}}', {"{p}p": {"q": 2}}),
        ('{"{p}p":{"q":3},"{p}p.q":"both"}', {"{p}p": {"q": 3}, "{p}p.q": "both"}),
    ],
    {"{p}p.q": "string", "{p}p": "struct<q: int64>"},
)
_add(
    "dotted",
    [
        ('{"{p}a.b.c":true}', {"{p}a.b.c": True}),
        ('{"{p}a":{"b.c":1.5}}', {"{p}a": {"b.c": 1.5, "b": None}}),
        ('{"{p}a":{"b":{"c":"deep"}}}', {"{p}a": {"b.c": None, "b": {"c": "deep"}}}),
        ('{"{p}a.b":{"c":7}}', {"{p}a.b": {"c": 7}}),
    ],
    {
        "{p}a.b.c": "bool",
        "{p}a": "struct<b.c: double, b: struct<c: string>>",
        "{p}a.b": "struct<c: int64>",
    },
)
_add(
    "dotted",
    [
        ('{"{p}l[]":"s"}', {"{p}l[]": "s"}),
        ('{"{p}l":[1,2]}', {"{p}l": [1, 2]}),
    ],
    {"{p}l[]": "string", "{p}l": "list<item: int64>"},
)
for value, arrow in [("1", "int64"), ('"v"', "string"), ("false", "bool"), ("2.25", "double")]:
    parsed = json.loads(value)
    _add(
        "dotted",
        [
            (f'{{"{{p}}x.y":{value}}}', {"{p}x.y": parsed}),
            ('{"{p}x":{"y":[1]}}', {"{p}x": {"y": [1]}}),
        ],
        {"{p}x.y": arrow, "{p}x": "struct<y: list<item: int64>>"},
    )

# -------------------------------------------------------------------------------------- reserved (~20 cases)
for name in [
    "dt",
    "DT",
    "Dt",
    "dT",
    "_source_file",
    "_SOURCE_FILE",
    "_Source_File",
    "_manifest_id",
    "_MANIFEST_ID",
    "_Manifest_Id",
    "_ingested_at",
    "_INGESTED_AT",
    "_Ingested_At",
]:
    for value in ('"2026-01-01"', '{"x":1}'):
        _add(
            "reserved",
            [(f'{{"{name}":{value},"{{p}}v":1}}', "reserved_field"), ('{"{p}v":2}', {"{p}v": 2})],
            {"{p}v": "int64"},
        )
_add(  # only top-level names are reserved
    "reserved",
    [
        (
            '{"{p}o":{"dt":"2026-01-01","_source_file":"f"}}',
            {"{p}o": {"dt": "2026-01-01", "_source_file": "f"}},
        )
    ],
    {"{p}o": "struct<dt: string, _source_file: string>"},
)

# ------------------------------------------------------------------------------- timestamp_text (~25 cases)
# Where strings win (some value is not an ISO date-time), every value is stored byte for byte.
_TEXTS = [
    "2026-03-01T10:20:30+05:30",
    "2026-03-01",
    "2026-03-01T10:20:30Z",
    "2026-03-01 10:20:30",
    "2026-03-01T10:20:30.123Z",
    "2026-03-01T10:20:30.123456789Z",
    "2026-03-01T10:20:30-08:00",
    "2026-03-01T10:20",
    "2026-03-01T00:00:00.000000Z",
    "2026-12-31T23:59:59.999999+00:00",
    "1999-01-01T00:00:00+14:00",
    "2026-03-01T10:20:30.5+01:00",
]
for text in _TEXTS:
    _add(
        "timestamp_text",
        [
            (f'{{"{{p}}s":"{text}"}}', {"{p}s": text}),
            ('{"{p}s":"not a date"}', {"{p}s": "not a date"}),
        ],
        {"{p}s": "string"},
    )
    _add(  # nested, and a list of strings
        "timestamp_text",
        [
            (f'{{"{{p}}o":{{"s":"{text}"}},"{{p}}l":["{text}"]}}', {"{p}o": {"s": text}, "{p}l": [text]}),
            ('{"{p}o":{"s":"later"},"{p}l":["x"]}', {"{p}o": {"s": "later"}, "{p}l": ["x"]}),
        ],
        {"{p}o": "struct<s: string>", "{p}l": "list<item: string>"},
    )
_add(  # dates alone are not date-times: a field of dates stays text
    "timestamp_text",
    [('{"{p}d":"2026-03-01"}', {"{p}d": "2026-03-01"}), ('{"{p}d":"2026-03-02"}', {"{p}d": "2026-03-02"})],
    {"{p}d": "string"},
)
_add(  # 9 fraction digits cannot be held by a timestamp[us]: text
    "timestamp_text",
    [
        ('{"{p}t":"2026-03-01T10:20:30.123456789Z"}', {"{p}t": "2026-03-01T10:20:30.123456789Z"}),
        ('{"{p}t":"2026-03-01T10:20:30Z"}', {"{p}t": "2026-03-01T10:20:30Z"}),
    ],
    {"{p}t": "string"},
)

# ------------------------------------------------------------------------------- timestamp_all (~10 cases)
# Every non-null value an ISO date-time: a timestamp[us, UTC] column, the instant kept.
_ALL = [
    ["2026-03-01T10:20:30+05:30", "2026-03-01T04:50:30Z"],
    ["2026-03-01T10:20:30Z", "2026-03-01T10:20:30.123456Z"],
    ["2026-03-01 10:20:30", "2026-03-02T00:00:00"],
    ["2026-03-01T10:20:30-08:00", "2026-03-01T10:20:30+01:00"],
    ["2026-03-01T10:20:30", "2026-03-01T10:20:30+02:00"],
    ["1999-12-31T23:59:59.5Z", "2000-01-01T00:00:00Z"],
]
for values in _ALL:
    body = [(f'{{"{{p}}t":"{v}"}}', {"{p}t": v}) for v in values]  # no offset: UTC
    body.append(('{"{p}t":null}', {"{p}t": None}))
    _add("timestamp_all", body, {"{p}t": "timestamp[us, tz=UTC]"})
_add(
    "timestamp_all",
    [
        ('{"{p}o":{"at":"2026-03-01T10:20:30+05:30"}}', {"{p}o": {"at": "2026-03-01T04:50:30Z"}}),
        ('{"{p}o":{"at":"2026-03-01T10:20:31Z"}}', {"{p}o": {"at": "2026-03-01T10:20:31Z"}}),
    ],
    {"{p}o": "struct<at: timestamp[us, tz=UTC]>"},
)


def counts() -> dict[str, int]:
    out: dict[str, int] = {}
    for case in CASES:
        out[case.kind] = out.get(case.kind, 0) + 1
    return out
