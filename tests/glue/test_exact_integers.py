"""Exact integers (issue 12): integers beyond 2^53 and beyond int64 are never rounded. Each class run for real
(the job on the shared SparkSession), the values read back with pyarrow, Spark (default settings) and DuckDB."""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from glue_helpers import convert_corpus, parquet_files, quarantine_records, run, write_manifest

from glue_jobs.ndjson_to_parquet.integers import needs_exact_treatment
from glue_jobs.ndjson_to_parquet.parse import parse_block

INEXACT = "type_conflict"  # every record no exact column type holds

# (field, file, raw JSON value, outcome): outcome "row" (the value read back exactly) or a quarantine reason
# prefix. Files 0 and 1 are separate blocks: a field's pieces then meet only in the batch resolution.
CASES: list[tuple[str, int, str, str]] = [
    # integers and fractions in one block: double; integers beyond 2^53 quarantined
    *[
        ("mixed", 0, raw, "row")
        for raw in ("1.5", "-2.25", "42", "9007199254740992", "-9007199254740992", "0")
    ],
    *[
        ("mixed", 0, raw, INEXACT)
        for raw in ("1234567890123456789", "9007199254740993", "-9007199254740993", "9223372036854775807")
    ],
    # the same, the integers in one file (an int64 piece) and the fractions in another
    *[("across", 0, raw, "row") for raw in ("7", "9007199254740992", "-3")],
    *[("across", 0, raw, INEXACT) for raw in ("1234567890123456789", "-9223372036854775808")],
    *[("across", 1, raw, "row") for raw in ("0.5", "1e3", "2.5E-3")],
    # integers beyond int64, no fractions: decimal(38,0), every value exact; more than 38 digits quarantined
    *[
        ("wide", 0, raw, "row")
        for raw in (
            "9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "99999999999999999999999999999999999999",
            "-99999999999999999999999999999999999999",
            "9223372036854775807",
            "1",
            "-1",
        )
    ],
    *[("wide", 0, raw, INEXACT) for raw in ("100000000000000000000000000000000000000", "-" + "9" * 45)],
    ("wide", 0, "9" * 400, "invalid_json"),  # beyond a double's range: the strict parser (orjson) refuses it
    *[("wide", 1, raw, "row") for raw in ("5", "1234567890123456789", "null")],  # an int64 piece: decimal too
    # beyond int64 and fractions: those records quarantined, in one block or across blocks
    *[("wide_mixed", 0, raw, INEXACT) for raw in ("9223372036854775808", "123456789012345678901234567890")],
    *[("wide_mixed", 0, raw, "row") for raw in ("3.75", "12")],
    *[("wide_mixed2", 0, raw, INEXACT) for raw in ("18446744073709551616", "-18446744073709551617")],
    *[("wide_mixed2", 1, raw, "row") for raw in ("0.125", "9007199254740991")],
    # nested: a list of numbers inside an object
    *[("nested", 0, raw, "row") for raw in ('{"v": [1, 2.5]}', '{"v": [9007199254740992]}', '{"v": null}')],
    *[("nested", 0, raw, INEXACT) for raw in ('{"v": [1.5, 12345678901234567890]}',)],
    # a 16+ digit literal inside a string is text, not a number
    *[("text", 0, raw, "row") for raw in ('"a:12345678901234567890"', '"[1234567890123456789"')],
]
TYPES = {
    "mixed": "double",
    "across": "double",
    "wide": "decimal128(38, 0)",
    "wide_mixed": "double",
    "wide_mixed2": "double",
    "nested": "struct<v: list<element: double>>",
    "text": "string",
}


def _lines() -> list[list[str]]:
    files: list[list[str]] = [[], []]
    for number, (name, file, raw, _) in enumerate(CASES):
        files[file].append(f'{{"case_id": "c{number}", "{name}": {raw}}}')
    return files


def _exact(value: Any) -> Any:
    """A read-back value in exact terms: Decimal -> int, float kept; nested values element by element."""
    if isinstance(value, decimal.Decimal):
        assert value == value.to_integral_value()
        return int(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def _expected(name: str, raw: str) -> Any:
    value = json.loads(raw)
    if TYPES[name] == "double":
        return None if value is None else float(value)
    if name == "nested":
        return {"v": None if value["v"] is None else [float(v) for v in value["v"]]}
    return value


@pytest.fixture(scope="module")
def converted(spark, tmp_path_factory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("exact_integers")
    return convert_corpus(spark, directory, _lines(), MAX_BAD_RECORD_RATIO="0.9")


def test_the_corpus_covers_every_class():
    per_class: dict[str, int] = {}
    for name, _, _, _ in CASES:
        per_class[name] = per_class.get(name, 0) + 1
    assert per_class == {
        "mixed": 10,
        "across": 8,
        "wide": 14,
        "wide_mixed": 4,
        "wide_mixed2": 4,
        "nested": 4,
        "text": 2,
    }


def test_types_and_every_value_exact_or_quarantined(converted):
    schema: pa.Schema = converted["table"].schema
    for name, arrow in TYPES.items():
        assert str(schema.field(name).type) == arrow, name
    bad = {json.loads(r["raw_line"])["case_id"]: r for r in quarantine_records(converted["out"])}
    lines = [line for file in _lines() for line in file]
    by_id = {json.loads(line)["case_id"]: line for line in lines}
    for number, (name, _, raw, outcome) in enumerate(CASES):
        case_id = f"c{number}"
        if outcome != "row":
            assert case_id not in converted["rows"], raw
            reason = bad[case_id]["reason"]
            assert reason.startswith(f"{outcome}: "), reason
            assert outcome != INEXACT or f"'{name}" in reason, reason
            assert bad[case_id]["raw_line"] == by_id[case_id]
            continue
        assert case_id not in bad, bad.get(case_id)
        got = _exact(converted["rows"][case_id][name])
        assert got == _expected(name, raw) and type(got) is type(_expected(name, raw)), (raw, got)


def test_the_reasons_name_the_value_and_why(converted):
    reasons = {
        json.loads(r["raw_line"])["case_id"]: r["reason"] for r in quarantine_records(converted["out"])
    }
    for number, (_, _, raw, outcome) in enumerate(CASES):
        if outcome == INEXACT and raw.lstrip("-").isdigit():
            reason = reasons[f"c{number}"]
            assert f"integer {raw}" in reason, reason
            assert "not exact as a double" in reason or "more than 38 digits" in reason, reason


def test_the_report_lists_each_decision(converted):
    report = converted["report"]
    assert report["records_out"] + report["bad_records"] == report["records_in"] == len(CASES)
    assert report["bad_records"] == sum(1 for case in CASES if case[3] != "row")
    assert report["bad_records_by_reason"] == {INEXACT: 13, "invalid_json": 1}
    conflicts = {c["field"]: c for c in report["type_conflicts"]}
    assert conflicts["wide"]["resolved_as"] == "decimal128(38, 0)"
    # values counted by the kind of their piece: file 1's int64 piece holds an integer beyond 2^53
    assert conflicts["wide"]["values_by_type"] == {"integer beyond int64": 8, "integer beyond 2^53": 2}
    for name in ("across", "wide_mixed2"):
        assert conflicts[name]["resolved_as"] == "double", name
        assert "float" in conflicts[name]["values_by_type"], name
    assert "text" not in conflicts


def test_spark_with_default_settings_reads_the_values_exactly(spark, converted):
    assert spark.conf.get("spark.sql.caseSensitive") == "false"
    frame = spark.read.parquet(str(converted["out"] / "dt=2026-11-22"))
    assert dict(frame.dtypes)["wide"] == "decimal(38,0)"
    got = {row["case_id"]: row for row in frame.select("case_id", "wide", "mixed", "across").collect()}
    assert got.keys() == converted["rows"].keys()
    for case_id, row in converted["rows"].items():
        for name in ("wide", "mixed", "across"):
            assert got[case_id][name] == row[name], (case_id, name)


def test_duckdb_reads_the_values_exactly(converted):
    files = [str(f) for f in parquet_files(converted["out"])]
    got = duckdb.sql(f"SELECT case_id, wide, mixed, across FROM read_parquet({files!r})").fetchall()
    rows = converted["rows"]
    expected = {r["case_id"]: (r["case_id"], r["wide"], r["mixed"], r["across"]) for r in rows.values()}
    assert sorted(got) == sorted(expected.values())
    column = duckdb.sql(f"DESCRIBE SELECT wide FROM read_parquet({files!r})").fetchall()
    assert column[0][1] == "DECIMAL(38,0)"


def test_a_batch_without_long_integers_keeps_its_types(spark, tmp_path: Path):
    lines = ['{"i": 1, "f": 1.5, "m": 2, "big": 123456789012345}', '{"i": -4, "f": 2.0, "m": 0.5, "big": 1}']
    file = tmp_path / "narrow.ndjson"
    file.write_text("\n".join(lines) + "\n")
    block = file.read_bytes()
    assert not needs_exact_treatment(block, parse_block("u", 0, block).tables[0])
    report = run(spark, write_manifest(tmp_path, [file]), tmp_path / "out")
    table = pa.concat_tables([pq.read_table(f) for f in parquet_files(tmp_path / "out")])
    assert [str(t) for t in table.schema.types[:4]] == ["int64", "double", "double", "int64"]
    assert table.column("m").to_pylist() == [2.0, 0.5]
    assert report["type_conflicts"] == [] and report["bad_records"] == 0


@pytest.mark.parametrize("shuffle", range(3))
def test_the_fast_and_slow_paths_agree(shuffle: int):
    lines = [line.encode() for line in _lines()[0]]
    lines = lines[shuffle:] + lines[:shuffle]
    fast = parse_block("u", 0, b"\n".join(lines) + b"\n")
    slow = parse_block("u", 0, b"\n".join([*lines, b"{,}"]) + b"\n")  # an invalid line: the slow path
    assert sorted((b["raw_line"], b["reason"]) for b in slow.bad if b["raw_line"] != "{,}") == sorted(
        (b["raw_line"], b["reason"]) for b in fast.bad
    )

    def rows(result: Any) -> int:
        return sum(t.num_rows for t in result.tables)

    assert rows(fast) == rows(slow) == len(lines) - len(fast.bad)
