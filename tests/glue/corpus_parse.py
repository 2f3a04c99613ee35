"""The parse corpus: one line per case with its expected outcome (a row with these values, or a quarantine reason).

`%K%` in a line is replaced by the case's own top-level key (`k000`, `k001`, ...), so that the cases of one batch
never meet on a field (no type conflict between cases: each line's outcome is its own). Row cases expect the
line's JSON value (`value` when given); quarantine cases expect the reason kind (the text before the colon).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from glue_jobs.ndjson_to_parquet.parse import MAX_NESTING_DEPTH

ROW = "row"


@dataclass(frozen=True)
class Case:
    kind: str  # the input class
    line: bytes  # without its newline
    outcome: str  # ROW or a quarantine reason kind
    value: Any = None  # the expected row (data columns) when it is not the line's own JSON value

    def expected_row(self) -> Any:
        return self.value if self.value is not None else json.loads(self.line.decode("utf-8"))


def _nested(depth: int, opener: str = "object") -> str:
    """A `%K%` object nesting `depth` levels in all, the top object counting as 1."""
    if opener == "object":
        return '{"%K%":' + '{"a":' * (depth - 1) + "1" + "}" * depth
    return '{"%K%":' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


_VALID = [
    "1",
    "-1",
    "0",
    "-0",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "-0.25",
    "1e5",
    "1E-3",
    "6.02214076e23",
    "true",
    "false",
    "null",
    '""',
    '"plain text"',
    '"caf\\u00e9"',
    '"café 日本 😀"',
    '"\\ud83d\\ude00"',
    '"line\\nbreak\\ttab\\r"',
    '"quote \\" backslash \\\\ slash \\/"',
    '"\\u0000 nul escaped"',
    '"\x7f del"',
    '"NaN"',
    '"Infinity"',
    '"-Infinity"',
    '"x: NaN, [NaN]"',
    '"[[[[{{{{"',
    '"}}]]"',
    '"\\\\"',
    '"\\\\\\"{["',
    '"// not a comment /* */"',
    '"' + "x" * 10_000 + '"',
    "[]",
    "[1, 2, 3]",
    '["a", "b"]',
    "[[1, 2], [3]]",
    '[{"a": 1}, {"a": 2}]',
    "[1, null]",
    "[true, false]",
    '{"a": 1}',
    '{"a": {"b": {"c": "deep"}}}',
    '{"a": null, "b": [1]}',
    '{"a": [{"b": [1, 2]}]}',
    '{"x[": 1, "y{": "]"}',
]
_SHAPES = [
    ('{"%K%": 1}', None),
    ('{ "%K%" : 1 }', {"%K%": 1}),
    ('\t{"%K%":1}\t', {"%K%": 1}),
    ('{"%K%":1}\r', {"%K%": 1}),
    ('   {"%K%":"leading spaces"}', {"%K%": "leading spaces"}),
    ('{"%K%a":1,"%K%b":"x","%K%c":null,"%K%d":[1],"%K%e":{"f":true}}', None),
    ("{" + ",".join(f'"%K%_{i:02d}": {i}' for i in range(60)) + "}", None),
    (_nested(MAX_NESTING_DEPTH - 1), None),
    (_nested(MAX_NESTING_DEPTH), None),
    (_nested(MAX_NESTING_DEPTH, "array"), None),
    ('{"%K%": "' + "[" * 100 + '"}', None),  # brackets in a string do not nest
]
_EMPTY = [b"{}", b"{ }", b" {} ", b"{}\r", b"\t{\t}\t"]
_INVALID_JSON = [
    '{"%K%": 1',
    '{"%K%": "abc',
    '{"%K%": [1, 2',
    '{"%K%": {"a": 1}',
    '{"%K%": 1}}',
    '{"%K%": 1}]',
    '{"%K%": 1},',
    '{"%K%": 1} x',
    '{"%K%": 1}{"b": 2}',
    '{"%K%": 1} {"b": 2}',
    '{"%K%": 1}//comment',
    '{"%K%": /* c */ 1}',
    "{'%K%': 1}",
    "{\"%K%\": 'x'}",
    "{%K%: 1}",
    '{"%K%" 1}',
    '{"%K%": 1 "b": 2}',
    '{"%K%": 1,, "b": 2}',
    '{"%K%": 1,}',
    '{"%K%": [1, 2,]}',
    '{"%K%": NaN}',
    '{"%K%": Infinity}',
    '{"%K%": -Infinity}',
    '{"%K%": [1, NaN]}',
    '{"%K%": {"a": Infinity}}',
    '{"%K%":NaN,"b":"ok"}',
    '{"%K%": nan}',
    '{"%K%": 01}',
    '{"%K%": -01}',
    '{"%K%": 00}',
    '{"%K%": +1}',
    '{"%K%": .5}',
    '{"%K%": 1.}',
    '{"%K%": 0x1F}',
    '{"%K%": 1e400}',
    '{"%K%": True}',
    '{"%K%": None}',
    '{"%K%": tru}',
    '{"%K%": "\\x41"}',
    '{"%K%": "\\u12"}',
    '{"%K%": "\\ud800"}',
    '{"%K%": "\\udc00"}',
    '{"%K%": "\\ude00\\ud83d"}',
    '{"%K%": "a\x01b"}',
    '{"%K%": "tab\tinside"}',
    '{"%K%": "\x1f"}',
    '{"%K%": 1}\x00',
    '{"%K%":\x0c1}',
    "\x0c",
    "\x0b",
    "\u00a0",
    "garbage",
    "{",
    "}",
    '"%K%": 1',
]
_INVALID_UTF8 = [
    b'{"%K%": "\xff"}',
    b'{"%K%": "\xc0\xaf"}',
    b'{"%K%": "\xe6\x97"}',
    b'{"%K%": "\xed\xa0\x80"}',
    b'{"%K%": "\x80"}',
    b'{"%K%\xfe": 1}',
    b"\xf5\x80\x80\x80",
    b'{"%K%": "ok"} \xff',
]
_NOT_AN_OBJECT = [
    "null",
    " null ",
    "true",
    "false",
    "0",
    "-1.5",
    "1e5",
    '"a string"',
    "[]",
    "[1, 2]",
    "[{}]",
    '[{"%K%": 1}]',
]
_TOO_DEEP = [
    _nested(MAX_NESTING_DEPTH + 1),
    _nested(MAX_NESTING_DEPTH + 1, "array"),
    _nested(64),
    _nested(65),
    _nested(100),
    _nested(1000, "array"),
    _nested(100_000, "array"),  # pyarrow's reader would crash on this one
    '{"%K%": ' + "[" * 40 + "1",  # also truncated: the depth is measured first
]
_UNCONVERTIBLE = ['{"%K%": 1, "%K%": 2}', '{"%K%": [1, "x"]}']


def _cases() -> list[Case]:
    cases: list[Case] = []
    for value in _VALID:
        cases.append(Case("valid value", ('{"%K%": ' + value + "}").encode(), ROW))
    for line, value in _SHAPES:
        cases.append(Case("valid shape", line.encode(), ROW, value))
    for line in _EMPTY:
        cases.append(Case("empty object", line, ROW, {}))
    for text in _INVALID_JSON:
        cases.append(Case("invalid JSON", text.encode(), "invalid_json"))
    cases.append(Case("BOM mid-file", b'\xef\xbb\xbf{"%K%": 1}', "invalid_json"))
    for line in _INVALID_UTF8:
        cases.append(Case("invalid UTF-8", line, "invalid_utf8"))
    for text in _NOT_AN_OBJECT:
        cases.append(Case("top-level non-object", text.encode(), "not_a_json_object"))
    for text in _TOO_DEEP:
        cases.append(Case("nesting too deep", text.encode(), "nesting_too_deep"))
    for text in _UNCONVERTIBLE:
        cases.append(Case("unconvertible", text.encode(), "unconvertible"))
    return [_keyed(number, case) for number, case in enumerate(cases)]


def _keyed(number: int, case: Case) -> Case:
    key = f"k{number:03d}".encode()
    line = case.line.replace(b"%K%", key)
    value = case.value
    if value is not None:
        value = json.loads(json.dumps(value).replace("%K%", key.decode()))
    return Case(case.kind, line, case.outcome, value)


CASES = _cases()
