"""Wide records (issue 12): a batch of 5,000-key objects converts with every value read back unchanged.

A correctness test only (the timings are in bench/wide_records.py and bench/results/wide_records.md). Each record
has 5,000 keys drawn from 10,000 names, so the batch schema is wider than every piece and the write stage pads the
keys a piece lacks with nulls (the path that was quadratic in the width). Values cycle through integers,
low-cardinality strings, floats, near-unique strings, booleans and nulls; none of them is converted.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from glue_helpers import parquet_files, run, write_manifest

KEYS = 5000
NAMES = 2 * KEYS
RECORDS = 40


def _value(rng: random.Random, record: int, key: int) -> Any:
    kind = key % 6
    if kind == 0:
        return rng.randint(-(2**62), 2**62)
    if kind == 1:
        return f"level-{rng.randint(0, 3)}"
    if kind == 2:
        return rng.uniform(-1e12, 1e12)
    if kind == 3:
        return f"{record}-{key}-{rng.getrandbits(48):012x}"
    if kind == 4:
        return rng.random() < 0.5
    return None if rng.random() < 0.3 else rng.randint(0, 100)


def _records() -> list[dict[str, Any]]:
    rng = random.Random(12)
    records = []
    for record in range(RECORDS):
        row: dict[str, Any] = {"id": record}
        keys = range(NAMES) if record == 0 else sorted(rng.sample(range(NAMES), KEYS))
        for key in keys:  # record 0 has every name, so that every column has a type
            row[f"k{key:05d}"] = _value(rng, record, key)
        records.append(row)
    return records


@pytest.fixture(scope="module")
def wide_batch(spark, tmp_path_factory) -> tuple[list[dict[str, Any]], Path, dict]:
    directory = tmp_path_factory.mktemp("wide")
    records = _records()
    source = directory / "wide.ndjson"
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    out = directory / "out"
    report = run(spark, write_manifest(directory, [source]), out)
    return records, out, report


def _expected(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [f"k{key:05d}" for key in range(NAMES)]
    return [{"id": r["id"], **{name: r.get(name) for name in names}} for r in records]


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        got = actual[name]
        assert type(got) is type(value), (actual["id"], name, got, value)
        if isinstance(value, float):
            assert got == value or (math.isnan(got) and math.isnan(value)), (actual["id"], name, got, value)
        else:
            assert got == value, (actual["id"], name, got, value)


def test_every_line_is_one_row_and_no_record_is_quarantined(wide_batch):
    _, out, report = wide_batch
    assert report["status"] == "succeeded"
    assert report["records_in"] == report["records_out"] == RECORDS
    assert report["bad_records"] == 0
    assert len(parquet_files(out)) == len(report["output_files"]) >= 1


def test_pyarrow_reads_every_value_back_under_its_own_name(wide_batch):
    records, out, _ = wide_batch
    table = pa.concat_tables(pq.ParquetFile(path).read() for path in parquet_files(out))  # no `dt` column
    data = [f"k{key:05d}" for key in range(NAMES)]
    assert table.column_names == ["id", *data, "_source_file", "_manifest_id", "_ingested_at"]
    rows = sorted(
        table.drop_columns(["_source_file", "_manifest_id", "_ingested_at"]).to_pylist(),
        key=lambda r: r["id"],
    )
    assert len(rows) == RECORDS
    for actual, expected in zip(rows, _expected(records), strict=True):
        _same(actual, expected)


def test_spark_with_default_settings_reads_every_value_back(spark, wide_batch):
    records, out, _ = wide_batch
    assert spark.conf.get("spark.sql.caseSensitive") == "false"  # the default: names must not clash by case
    frame = spark.read.parquet(str(out / "dt=2026-11-22")).drop(
        "_source_file", "_manifest_id", "_ingested_at"
    )
    assert len(frame.columns) == 1 + NAMES
    rows = sorted((row.asDict() for row in frame.collect()), key=lambda r: r["id"])
    assert len(rows) == RECORDS
    for actual, expected in zip(rows, _expected(records), strict=True):
        _same(actual, expected)
