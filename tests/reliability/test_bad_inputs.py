"""The bad input matrix: every kind of bad file or line gets a clear, asserted outcome, and the invariant holds.

Inputs of one day travel in one manifest (one Glue run); a truncated gzip fails its whole batch, so it has its own
day, and a column changing type between days needs a second day. Outcomes follow docs/glue-job.md: a bad line is
quarantined with a stable reason, a good line is a Parquet row, a file the job cannot read fails its batch
(`InputFileUnreadable`), and nothing is dropped silently."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from ops.harness import INPUT, LAKE, QUARANTINE_PREFIX, MiniStack, ndjson

from .checks import assert_holds, staged_to_s3

DAY, BROKEN_DAY, NEXT_DAY = "2026-08-01", "2026-08-02", "2026-08-03"
GOOD = {"event_id": "e", "user": {"id": 1, "country": "NL"}, "amount": 1.5, "ts": f"{DAY}T10:00:00Z"}


def _line(**fields: object) -> bytes:
    return json.dumps({**GOOD, **fields}, ensure_ascii=False).encode()


# name -> (object key under raw/<day>/, body, Parquet rows, quarantined lines by reason)
MATRIX: dict[str, tuple[str, bytes, int, dict[str, int]]] = {
    "bulk of good lines": ("good.ndjson", ndjson(DAY, "good", 1500), 1500, {}),
    "gzip": ("good.ndjson.gz", gzip.compress(ndjson(DAY, "gz", 40)), 40, {}),
    "truncated JSON": (
        "truncated.ndjson",
        _line() + b'\n{"event_id": "t", "amount":\n',
        1,
        {"invalid_json": 1},
    ),
    "bare strings, numbers, booleans, null": (
        "bare.ndjson",
        b'"just a string"\n42\n-1.5e3\ntrue\nnull\n' + _line() + b"\n",
        1,
        {"not_a_json_object": 5},
    ),
    "arrays at top level": (
        "arrays.ndjson",
        b'[1, 2, 3]\n[{"a": 1}]\n' + _line() + b"\n",
        1,
        {"not_a_json_object": 2},
    ),
    "invalid UTF-8": (
        "latin1.ndjson",
        b'{"event_id": "caf\xe9"}\n' + _line() + b"\n",
        1,
        {"invalid_utf8": 1},
    ),
    "NUL byte inside a string": (
        "nul.ndjson",
        b'{"event_id": "a\x00b"}\n' + _line() + b"\n",
        1,
        {"invalid_json": 1},
    ),
    "empty file": ("empty.ndjson", b"", 0, {}),
    "blank lines only": ("blank.ndjson", b"\n   \n\t\r\n", 0, {}),
    "one pretty-printed .json document": (
        "pretty.json",
        json.dumps({"event_id": "p", "nested": {"k": [1, 2]}}, indent=2).encode(),
        0,
        {"invalid_json": 8, "not_a_json_object": 1},  # each line is a record; the bare `2` parses
    ),
    "UTF-8 BOM": ("bom.ndjson", b"\xef\xbb\xbf" + _line() + b"\n" + _line() + b"\n", 2, {}),
    "CRLF line ends": ("crlf.ndjson", _line() + b"\r\n" + _line() + b"\r\n\r\n", 2, {}),
    "JSON keys with spaces, +, % and unicode": (
        "odd-keys.ndjson",
        json.dumps({"first name": "a", "a+b": 1, "100%": 2, "naïve ключ": 3}, ensure_ascii=False).encode()
        + b"\n",
        1,
        {},
    ),
    "type conflicts (lossless and not)": (
        "conflicts.ndjson",
        _line(amount="12.50") + b"\n" + _line(amount="n/a") + b"\n",
        1,
        {"type_conflict": 1},
    ),
    "a column appearing mid-day": ("late-column.ndjson", _line(coupon="WINTER") + b"\n", 1, {}),
    "a 10 MB single line": ("huge-line.ndjson", _line(blob="x" * 10_000_000) + b"\n", 1, {}),
    "S3 key with a space": ("with space.ndjson", _line() + b"\n", 1, {}),
    "S3 key with +": ("plus+sign.ndjson", _line() + b"\n", 1, {}),
    "S3 key with %": ("100%.ndjson", _line() + b"\n", 1, {}),
    "S3 key with unicode": ("ünïcödé-日本.jsonl", _line() + b"\n", 1, {}),
}


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("reliability-inputs")).start(spark, {})
    yield mini
    mini.stop()


@pytest.fixture(scope="module")
def converted(stack):
    for key, body, _, _ in MATRIX.values():
        stack.drop(f"raw/{DAY}/{key}", body)
    stack.drop(f"raw/{DAY}/notes.csv", b"a,b\n1,2\n")  # not an accepted suffix
    stack.deliver(rounds=10)
    stack.flush()
    [manifest] = stack.wait_manifests_final(DAY, 1)
    stack.wait_executions_done()
    return manifest


def _quarantine(stack: MiniStack, day: str) -> Counter[tuple[str, str]]:
    s3 = stack.aws.client("s3")
    reasons: Counter[tuple[str, str]] = Counter()
    for obj in s3.list_objects_v2(Bucket=LAKE, Prefix=f"{QUARANTINE_PREFIX}dt={day}/").get("Contents", []):
        for line in s3.get_object(Bucket=LAKE, Key=obj["Key"])["Body"].read().splitlines():
            record = json.loads(line)
            assert {"source_file", "offset", "reason", "raw_line"} <= set(record)
            reasons[(staged_to_s3(record["source_file"]), record["reason"].split(":", 1)[0])] += 1
    return reasons


def test_every_input_of_the_matrix_has_its_outcome(stack, converted):
    assert converted["status"] == "completed", converted
    assert int(converted["file_count"]) == len(MATRIX)  # every accepted file tracked and batched once
    rows = Counter(staged_to_s3(r["_source_file"]) for r in stack.lake_records(DAY))
    quarantined = _quarantine(stack, DAY)
    for name, (key, _, want_rows, want_bad) in MATRIX.items():
        url = f"s3://{INPUT}/raw/{DAY}/{key}"
        got_bad = {reason: n for (source, reason), n in quarantined.items() if source == url}
        assert (rows[url], got_bad) == (want_rows, want_bad), name
    report = assert_holds(stack, DAY)
    assert report.objects_checked == len(MATRIX)
    assert any("notes.csv" in note for note in report.notes)
    assert report.lines_checked == sum(r + sum(b.values()) for _, _, r, b in MATRIX.values())


def test_types_keys_and_drift_in_the_parquet(stack, converted):
    s3 = stack.aws.client("s3")
    [key] = [k for k in stack.lake_keys(DAY) if k.endswith(".parquet")]
    schema = pq.read_schema(io.BytesIO(s3.get_object(Bucket=LAKE, Key=key)["Body"].read()))
    names = schema.names
    for column in ("first name", "a+b", "100%", "naïve ключ", "coupon"):
        assert column in names  # odd keys kept verbatim, the late column added
    assert str(schema.field("amount").type) == "double"  # "12.50" converted losslessly, "n/a" quarantined
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    amounts = [r["amount"] for r in stack.lake_records(DAY) if r["_source_file"].endswith("conflicts.ndjson")]
    assert amounts == [12.5]
    couponed = [r for r in stack.lake_records(DAY) if r.get("coupon") is not None]
    assert [r["coupon"] for r in couponed] == ["WINTER"]


def test_truncated_gzip_fails_its_batch_by_name_and_nothing_is_published(stack, converted):
    whole = gzip.compress(ndjson(BROKEN_DAY, "z", 300))
    stack.drop(f"raw/{BROKEN_DAY}/cut.ndjson.gz", whole[: len(whole) // 2])
    stack.drop(f"raw/{BROKEN_DAY}/fine.ndjson", ndjson(BROKEN_DAY, "fine", 5))
    stack.deliver()
    stack.flush()
    [manifest] = stack.wait_manifests_final(BROKEN_DAY, 1)
    stack.wait_executions_done()
    assert manifest["status"] == "failed"
    assert "InputFileUnreadable" in manifest.get("cause", "") + manifest.get("error", ""), manifest
    assert {f["status"] for f in stack.files(BROKEN_DAY)} == {"failed"}
    assert not [k for k in stack.lake_keys(BROKEN_DAY) if k.endswith(".parquet")]
    assert_holds(
        stack, BROKEN_DAY
    )  # failed is terminal: visible in `pipeline status`, nothing half-published


def test_a_column_changing_type_between_days(stack, converted):
    """The first day made `amount` a double in the table's contract; the next day's producer sends text. The
    contract holds: convertible text ("7.25") becomes the double, the rest is quarantined with a reason naming
    the field, the table type and the value's type; the table keeps one type for `amount` across days."""
    lines = [json.dumps({"event_id": f"n{i}", "amount": f"{i}.25"}) for i in range(95)]
    lines += [json.dumps({"event_id": f"x{i}", "amount": f"{i} EUR"}) for i in range(5)]
    stack.drop(f"raw/{NEXT_DAY}/next.ndjson", ("\n".join(lines) + "\n").encode())
    stack.deliver()
    stack.flush()
    [manifest] = stack.wait_manifests_final(NEXT_DAY, 1)
    stack.wait_executions_done()
    assert manifest["status"] == "completed", manifest
    assert int(manifest["values_converted"]) == 95 and int(manifest["contract_quarantined"]) == 5
    s3 = stack.aws.client("s3")
    [key] = [k for k in stack.lake_keys(NEXT_DAY) if k.endswith(".parquet")]
    schema = pq.read_schema(io.BytesIO(s3.get_object(Bucket=LAKE, Key=key)["Body"].read()))
    assert str(schema.field("amount").type) == "double"  # the table's type, as on DAY
    assert sorted(r["amount"] for r in stack.lake_records(NEXT_DAY)) == [i + 0.25 for i in range(95)]
    assert _quarantine(stack, NEXT_DAY) == Counter(
        {(f"s3://{INPUT}/raw/{NEXT_DAY}/next.ndjson", "schema_contract"): 5}
    )
    assert_holds(stack, NEXT_DAY)
