"""Names and values (issue 12): the corpus of tests/glue/corpus_values.py run for real, read back with pyarrow,
Spark (default settings) and DuckDB; plus the resolution rules on observations (no Spark)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpus_values import CASES, counts
from glue_helpers import convert_corpus, parquet_files, quarantine_records

from glue_jobs.ndjson_to_parquet.conform import conform_table
from glue_jobs.ndjson_to_parquet.schema import resolve_schema

FILES = 3


def _instant(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _expected(value: Any, data_type: pa.DataType) -> Any:
    """The expected value in pyarrow's terms: ISO strings where the column is a timestamp become instants."""
    if value is None:
        return None
    if pa.types.is_timestamp(data_type):
        return _instant(value)
    if pa.types.is_struct(data_type):
        return {f.name: _expected(value.get(f.name), f.type) for f in data_type}
    if pa.types.is_list(data_type):
        return [_expected(item, data_type.value_type) for item in value]
    return value


def _names_unique_ignoring_case(fields: list[pa.Field], where: str) -> None:
    lowered = [f.name.lower() for f in fields]
    assert len(lowered) == len(set(lowered)), f"{where}: {[f.name for f in fields]}"
    for f in fields:
        data_type = f.type
        while pa.types.is_list(data_type):
            data_type = data_type.value_type
        if pa.types.is_struct(data_type):
            _names_unique_ignoring_case(list(data_type), f"{where}.{f.name}")


@pytest.fixture(scope="module")
def converted(spark, tmp_path_factory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("names_and_values")
    texts: list[list[str]] = [[] for _ in range(FILES)]
    for case in CASES:
        for number, line in enumerate(case.lines):
            texts[number % FILES].append(line)
    return convert_corpus(spark, directory, texts, MAX_BAD_RECORD_RATIO="0.9")


def test_the_corpus_covers_every_class():
    assert counts() == {
        "case_merge": 33,
        "case_collision": 20,
        "dotted": 8,
        "reserved": 27,
        "timestamp_text": 26,
        "timestamp_all": 7,
    }
    assert len(CASES) >= 120


@pytest.mark.parametrize("case", CASES, ids=[f"{c.ident}{c.kind}" for c in CASES])
def test_each_line_is_its_row_or_its_quarantined_record(converted, case):
    schema: pa.Schema = converted["table"].schema
    for name, arrow in case.columns.items():
        assert name in schema.names, (name, schema.names)
        # Parquet names a list's items `element`
        assert str(schema.field(name).type).replace("<element: ", "<item: ") == arrow, name
    for name in case.absent:
        assert name not in schema.names
    bad = {json.loads(r["raw_line"])["case_id"]: r for r in quarantine_records(converted["out"])}
    for number, (line, row, reason) in enumerate(zip(case.lines, case.rows, case.reasons, strict=True)):
        case_id = f"{case.ident}{number}"
        if row is None:
            assert case_id not in converted["rows"], line
            assert bad[case_id]["reason"].split(":")[0] == reason, bad[case_id]
            assert bad[case_id]["raw_line"] == line
            continue
        assert case_id not in bad, bad.get(case_id)
        got = converted["rows"][case_id]
        for name, value in row.items():
            assert got[name] == _expected(value, schema.field(name).type), (line, name)


def test_the_report_lists_case_variants_and_counts_every_line(converted):
    report = converted["report"]
    assert report["records_in"] == sum(len(c.lines) for c in CASES)
    assert report["records_out"] + report["bad_records"] == report["records_in"]
    variants = report["case_variants"]
    for case in CASES:
        if case.kind == "case_merge" and case.absent:
            (column,) = case.columns
            assert sorted([column, *case.absent]) == sorted(variants[column]), column
    reasons = report["bad_records_by_reason"]
    expected: dict[str, int] = {}
    for case in CASES:
        for reason in case.reasons:
            if reason:
                expected[reason] = expected.get(reason, 0) + 1
    assert reasons == expected


def test_no_two_columns_equal_ignoring_case_at_any_level(converted):
    for file in parquet_files(converted["out"]):
        _names_unique_ignoring_case(list(pq.read_schema(file)), file.name)


def test_spark_with_default_settings_reads_every_column_by_name(spark, converted):
    assert spark.conf.get("spark.sql.caseSensitive") == "false"
    folder = str(converted["out"] / "dt=2026-11-22")
    table: pa.Table = converted["table"]
    frame = spark.read.parquet(folder)  # the date folder itself
    assert frame.columns == table.column_names
    rows = frame.select([f"`{name}`" for name in frame.columns]).collect()
    assert len(rows) == table.num_rows
    by_case = {row["case_id"]: row for row in rows}
    strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
    for case_id, expected in converted["rows"].items():
        for name in strings:
            assert by_case[case_id][name] == expected[name], (case_id, name)
    # From the table's root, `dt` is the partition value: no data field can shadow it.
    partitioned = spark.read.option("basePath", str(converted["out"])).parquet(folder)
    assert partitioned.columns == [*table.column_names, "dt"]
    assert {str(row["dt"]) for row in partitioned.select("dt").collect()} == {"2026-11-22"}


def test_duckdb_selects_each_column_under_its_own_name(converted):
    files = [str(f) for f in parquet_files(converted["out"])]
    relation = duckdb.read_parquet(files)
    assert relation.columns == converted["table"].column_names  # no `amount_1`
    scalars = [
        f.name
        for f in converted["table"].schema
        if pa.types.is_string(f.type) or pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    ]
    selected = ", ".join(f'"{name}"' for name in scalars)
    got = duckdb.sql(f"SELECT {selected} FROM read_parquet({files!r})").fetchall()
    expected = {r["case_id"]: tuple(r[n] for n in scalars) for r in converted["rows"].values()}
    assert sorted(got, key=lambda r: r[0]) == sorted(expected.values(), key=lambda r: r[0])


# ------------------------------------------------------------------------------------ the rules, no Spark


def test_spellings_share_one_column_spelled_by_most_values_ties_smallest():
    observations = [
        (("Amount",), pa.int64(), 2),
        (("amount",), pa.int64(), 2),
        (("AMOUNT",), pa.float64(), 1),
        (("o",), pa.struct([("k", pa.int64()), ("K", pa.int64())]), 3),
        (("o", "k"), pa.int64(), 1),
        (("o", "K"), pa.int64(), 2),
    ]
    resolution = resolve_schema(observations, ["Amount", "amount", "AMOUNT", "o"], None)
    assert resolution.schema == pa.schema([("Amount", pa.float64()), ("o", pa.struct([("K", pa.int64())]))])
    assert resolution.case_variants == {"Amount": ["AMOUNT", "Amount", "amount"], "o.K": ["K", "k"]}


def test_a_dotted_key_is_not_a_nested_path():
    observations = [
        (("p.q",), pa.string(), 1),
        (("p",), pa.struct([("q", pa.int64())]), 1),
        (("p", "q"), pa.int64(), 1),
    ]
    resolution = resolve_schema(observations, ["p.q", "p"], None)
    assert resolution.schema == pa.schema([("p.q", pa.string()), ("p", pa.struct([("q", pa.int64())]))])
    assert resolution.conflicts == []


def test_reserved_names_are_left_out_and_their_records_reported():
    table = pa.table({"DT": ["2026-01-01", None], "v": [1, 2], "_Source_File": [None, "x"]})
    resolution = resolve_schema(
        [((n,), t, 1) for n, t in zip(table.column_names, table.schema.types, strict=True)],
        table.column_names,
        None,
    )
    assert resolution.schema.names == ["v"]
    conformed, bad = conform_table(table, resolution.schema)
    assert conformed.column("v").to_pylist() == [1, 2]
    assert sorted(bad) == [0, 1] and all(r.startswith("reserved_field: ") for r in bad.values())
    assert "'DT'" in bad[0] and "'_Source_File'" in bad[1]


def test_piece_merging_keeps_exact_names_and_text(tmp_path: Path):
    # null_as_string=False (the pieces of one block): exact names, nothing reserved, ISO strings stay strings
    observations = [
        (("id",), pa.int64(), 1),
        (("ID",), pa.int64(), 1),
        (("dt",), pa.timestamp("us", "UTC"), 1),
    ]
    resolution = resolve_schema(observations, ["id", "ID", "dt"], None, null_as_string=False)
    assert resolution.schema == pa.schema([("id", pa.int64()), ("ID", pa.int64()), ("dt", pa.string())])
