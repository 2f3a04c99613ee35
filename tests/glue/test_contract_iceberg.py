"""The schema contract end to end in the Iceberg format: the real job (local Spark) commits each manifest to an
Iceberg table in a local SQLite catalog (`--TABLE_FORMAT iceberg`, no Glue); the committed snapshot is read back
with pyiceberg, DuckDB and Spark (over the snapshot's data files) with one type per column."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from glue_helpers import quarantine_records, run, write_manifest

from glue_jobs.ndjson_to_parquet.iceberg import (
    SUMMARY_MANIFEST,
    TableRef,
    arrow_schema,
    data_schema,
    load_table,
    open_catalog,
    snapshots_with,
)

pytestmark = pytest.mark.spark
DATE = "2026-11-22"


def convert(spark, tmp_path: Path, out: Path, manifest_id: str, records: list[dict | str], **options) -> dict:
    directory = tmp_path / manifest_id
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / f"{manifest_id}.ndjson"
    file.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    options.setdefault("MAX_BAD_RECORD_RATIO", 0.9)
    manifest = write_manifest(directory, [file], manifest_id=manifest_id)
    return run(spark, manifest, out, TABLE_FORMAT="iceberg", **options)


def table_of(out: Path):
    ref = TableRef(None, "events", str(out))
    table = load_table(open_catalog(ref), ref)
    assert table is not None
    return table


def committed_files(out: Path) -> list[str]:
    return [task.file.file_path for task in table_of(out).scan().plan_files()]


def reasons(out: Path, manifest_id: str) -> dict[str, str]:
    return {r["raw_line"]: r["reason"] for r in quarantine_records(out, manifest_id)}


def test_issue_scenario_one_readable_iceberg_table(spark, tmp_path, out):
    first = convert(
        spark, tmp_path, out, "m-0001", [{"id": i, "amount": i * 10, "flag": i % 2 == 0} for i in range(1, 5)]
    )
    assert first["status"] == "succeeded" and first["commit"] == "committed"
    assert first["table_format"] == "iceberg" and first["contract"]["columns_added"] == [
        "id",
        "amount",
        "flag",
    ]
    lines = [
        '{"id": 10, "amount": "12", "flag": "true"}',
        '{"id": 11, "amount": "12.50", "flag": "true"}',
        '{"id": 12, "amount": "abc", "flag": "false"}',
        '{"id": 13, "amount": "7", "flag": "yes"}',
        '{"id": 14, "amount": "8", "flag": "false"}',
    ]
    second = convert(spark, tmp_path, out, "m-0002", lines)
    assert second["status"] == "succeeded" and second["records_out"] == 2 and second["bad_records"] == 3
    assert second["contract"]["records_quarantined"] == 3 and second["contract"]["columns_added"] == []
    assert second["snapshot_id"] != first["snapshot_id"] and second["added_rows"] == 2
    assert reasons(out, "m-0002") == {
        lines[
            1
        ]: "schema_contract: field 'amount' holds a string value that cannot be converted to the table "
        "type int64",
        lines[
            2
        ]: "schema_contract: field 'amount' holds a string value that cannot be converted to the table "
        "type int64",
        lines[3]: "schema_contract: field 'flag' holds a string value that cannot be converted to the table "
        "type bool",
    }
    table = table_of(out)
    assert data_schema(table) == pa.schema([("id", pa.int64()), ("amount", pa.int64()), ("flag", pa.bool_())])
    # every committed file has the table's types; three readers agree
    files = committed_files(out)
    assert len(files) == 2
    assert {str(pq.read_schema(f).field("amount").type) for f in files} == {"int64"}
    amount_id = str(table.schema().find_field("amount").field_id).encode()
    assert {pq.read_schema(f).field("amount").metadata[b"PARQUET:field_id"] for f in files} == {amount_id}
    rows = {r["id"]: r for r in table.scan().to_arrow().to_pylist()}
    assert sorted(rows) == [1, 2, 3, 4, 10, 14]
    assert rows[10]["amount"] == 12 and rows[10]["flag"] is True and rows[14]["amount"] == 8
    duck = table.scan().to_duckdb("events")
    assert duck.execute("SELECT sum(amount), count(*) FROM events WHERE dt = ?", [DATE]).fetchall() == [
        (120, 6)
    ]
    frame = spark.read.parquet(*files)
    assert dict(frame.dtypes)["amount"] == "bigint" and frame.count() == 6
    # time travel: the first snapshot holds the first batch only
    assert len(table.scan(snapshot_id=first["snapshot_id"]).to_arrow()) == 4


def test_rerun_of_a_committed_manifest_commits_nothing(spark, tmp_path, out):
    first = convert(spark, tmp_path, out, "m-0001", [{"id": 1, "v": "a"}])
    again = convert(spark, tmp_path, out, "m-0001", [{"id": 1, "v": "a"}])
    assert again["commit"] == "already_committed" and again["snapshot_id"] == first["snapshot_id"]
    table = table_of(out)
    assert len(snapshots_with(table, SUMMARY_MANIFEST, "m-0001")) == 1
    assert len(table.scan().to_arrow()) == 1


@pytest.mark.parametrize(
    ("first", "second", "table_type", "value_type"),
    [
        ({"v": {"a": 1}}, {"v": 5}, "struct<a: int64>", "number"),
        ({"v": 5}, {"v": "five"}, "int64", "string"),
        ({"v": [1, 2]}, {"v": 5}, "list<item: int64>", "number"),
        ({"v": True}, {"v": "maybe"}, "bool", "string"),
    ],
    ids=["struct-vs-scalar", "scalar-vs-string", "array-vs-scalar", "bool-vs-string"],
)
def test_type_conflicts_across_batches(spark, tmp_path, out, first, second, table_type, value_type):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, **first}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, **second}, {"id": 3, **first}])
    assert report["contract"]["records_quarantined"] == 1 and report["records_out"] == 1
    (reason,) = reasons(out, "m-0002").values()
    assert reason == (
        f"schema_contract: field 'v' holds a {value_type} value that cannot be converted to the table type "
        f"{table_type}"
    )
    table = table_of(out)
    assert str(arrow_schema(table.schema()).field("v").type) == table_type
    assert sorted(r["id"] for r in table.scan().to_arrow().to_pylist()) == [1, 3]


def test_int32_contract_promoted_by_iceberg_rules(spark, tmp_path, out):
    seed = {
        "type": "struct",
        "fields": [
            {"name": "id", "type": "long", "nullable": True, "metadata": {}},
            {"name": "count", "type": "integer", "nullable": True, "metadata": {}},
        ],
    }
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(seed))
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "count": 5}], SCHEMA_PATH=schema_path)
    assert data_schema(table_of(out)).field("count").type == pa.int32()
    second = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "count": 2**40}])
    assert second["contract"]["promoted"] == [{"field": "count", "from": "int32", "to": "int64"}]
    table = table_of(out)
    assert data_schema(table).field("count").type == pa.int64()
    assert sorted(r["count"] for r in table.scan().to_arrow().to_pylist()) == [5, 2**40]


def test_new_columns_join_the_table_in_the_same_commit(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "a": "x"}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "a": "y", "extra": {"k": 1}}])
    assert report["contract"]["columns_added"] == ["extra"]
    table = table_of(out)
    snapshot = table.snapshot_by_id(report["snapshot_id"])
    assert snapshot is not None and snapshot.schema_id == table.schema().schema_id
    rows = {r["id"]: r for r in table.scan().to_arrow().to_pylist()}
    assert rows[1]["extra"] is None and rows[2]["extra"] == {"k": 1}
