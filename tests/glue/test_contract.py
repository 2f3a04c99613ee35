"""The schema contract end to end in the Parquet format: batches of one table conformed to its contract
(`OUTPUT_PATH/_schema/contract.json`), read back with pyarrow, DuckDB and Spark with one type per column."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from glue_helpers import parquet_files, quarantine_records, query, run, write_manifest

from glue_jobs.ndjson_to_parquet.contract import from_json

pytestmark = pytest.mark.spark
DATE = "2026-11-22"


def batch(directory: Path, manifest_id: str, records: list[dict | str]) -> Path:
    """One file of NDJSON lines (a str is written as it is), and its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / f"{manifest_id}.ndjson"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return write_manifest(directory, [file], manifest_id=manifest_id)


def convert(spark, tmp_path: Path, out: Path, manifest_id: str, records: list[dict | str], **options) -> dict:
    options.setdefault("MAX_BAD_RECORD_RATIO", 0.9)
    return run(spark, batch(tmp_path / manifest_id, manifest_id, records), out, **options)


def contract_file(out: Path) -> pa.Schema:
    return from_json(json.loads((out / "_schema" / "contract.json").read_text()))


def file_types(out: Path, column: str) -> set[str]:
    """The column's type in every file of the date (list items named as Arrow names them)."""
    return {
        str(pq.read_schema(f).field(column).type).replace("element:", "item:") for f in parquet_files(out)
    }


def rows_by_id(out: Path) -> dict[int, dict]:
    # permissive: files written before a promotion (int32) and after (int64) read as the wider type
    table = pa.concat_tables([pq.read_table(f) for f in parquet_files(out)], promote_options="permissive")
    return {r["id"]: r for r in table.to_pylist()}


def reasons(out: Path, manifest_id: str) -> dict[str, str]:
    """raw line -> reason of the manifest's quarantined records."""
    return {r["raw_line"]: r["reason"] for r in quarantine_records(out, manifest_id)}


def test_issue_scenario_one_readable_table(spark, tmp_path, out):
    first = convert(
        spark, tmp_path, out, "m-0001", [{"id": i, "amount": i * 10, "flag": i % 2 == 0} for i in range(1, 5)]
    )
    assert first["contract"] == {
        "source": f"file:{out}/_schema/contract.json",
        "columns_added": ["id", "amount", "flag"],
        "promoted": [],
        "values_converted": {},
        "records_quarantined": 0,
    }
    assert contract_file(out) == pa.schema([("id", pa.int64()), ("amount", pa.int64()), ("flag", pa.bool_())])
    lines = [
        '{"id": 10, "amount": "12", "flag": "true"}',
        '{"id": 11, "amount": "12.50", "flag": "true"}',
        '{"id": 12, "amount": "abc", "flag": "false"}',
        '{"id": 13, "amount": "7", "flag": "yes"}',
        '{"id": 14, "amount": "8", "flag": "false"}',
    ]
    second = convert(spark, tmp_path, out, "m-0002", lines)
    assert second["status"] == "succeeded" and second["records_out"] == 2
    assert second["contract"] == {
        "source": f"file:{out}/_schema/contract.json",
        "columns_added": [],
        "promoted": [],
        "values_converted": {"amount": 2, "flag": 2},
        "records_quarantined": 3,
    }
    assert second["bad_records_by_reason"] == {"schema_contract": 3}
    assert [(c["name"], c["type"]) for c in second["schema"][:3]] == [
        ("id", "int64"),
        ("amount", "int64"),
        ("flag", "bool"),
    ]
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
    assert len(parquet_files(out)) == 2
    assert file_types(out, "amount") == {"int64"} and file_types(out, "flag") == {"bool"}
    rows = rows_by_id(out)
    assert (rows[10]["amount"], rows[10]["flag"]) == (12, True)
    assert (rows[14]["amount"], rows[14]["flag"]) == (8, False)
    assert set(rows) == {1, 2, 3, 4, 10, 14}
    glob = f"{out}/dt={DATE}/*.parquet"
    assert query(f"select distinct typeof(amount), typeof(flag) from read_parquet('{glob}')") == [
        ("BIGINT", "BOOLEAN")
    ]
    assert query(f"select sum(amount) from read_parquet('{glob}')") == [(100 + 12 + 8,)]
    frame = spark.read.parquet(str(out))
    assert dict(frame.dtypes)["amount"] == "bigint" and dict(frame.dtypes)["flag"] == "boolean"
    assert frame.where(f"dt = '{DATE}'").count() == 6
    assert frame.groupBy().sum("amount").first()[0] == 120


def test_double_contract_takes_decimal_text(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "amount": 1.5}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "amount": "12.50"}, {"id": 3, "amount": 7}])
    assert report["contract"]["values_converted"] == {"amount": 2}
    assert report["bad_records"] == 0
    assert file_types(out, "amount") == {"double"}
    rows = rows_by_id(out)
    assert rows[2]["amount"] == 12.5 and rows[3]["amount"] == 7.0


@pytest.mark.parametrize(
    ("first", "second", "table_type", "value_type"),
    [
        ({"v": {"a": 1}}, {"v": 5}, "struct<a: int64>", "number"),
        ({"v": 5}, {"v": {"a": 1}}, "int64", "object"),
        ({"v": [1, 2]}, {"v": 5}, "list<item: int64>", "number"),
        ({"v": 5}, {"v": [1, 2]}, "int64", "array"),
        ({"v": True}, {"v": "maybe"}, "bool", "string"),
    ],
    ids=["struct-vs-scalar", "scalar-vs-struct", "array-vs-scalar", "scalar-vs-array", "bool-vs-string"],
)
def test_incompatible_values_are_quarantined_the_type_stays(
    spark, tmp_path, out, first, second, table_type, value_type
):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, **first}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, **second}, {"id": 3, **first}])
    assert report["contract"]["records_quarantined"] == 1 and report["records_out"] == 1
    (reason,) = reasons(out, "m-0002").values()
    assert reason == (
        f"schema_contract: field 'v' holds a {value_type} value that cannot be converted to the table type "
        f"{table_type}"
    )
    assert file_types(out, "v") == {table_type}
    assert spark.read.parquet(str(out / f"dt={DATE}")).count() == 2


def test_string_contract_takes_booleans(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "v": "yes"}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "v": True}])
    assert report["bad_records"] == 0 and report["contract"]["values_converted"] == {"v": 1}
    assert file_types(out, "v") == {"string"}
    assert rows_by_id(out)[2]["v"] == "true"


def test_schema_path_seeds_an_int32_contract_that_plain_parquet_keeps(spark, tmp_path, out):
    """Iceberg would promote int32 -> int64 (contract.evolve, test_contract_units); a plain Parquet table keeps
    its files' physical types (Spark 3.5 cannot read an INT32 file column as bigint), so it conforms instead."""
    seed = {
        "type": "struct",
        "fields": [
            {"name": "id", "type": "long", "nullable": True, "metadata": {}},
            {"name": "count", "type": "integer", "nullable": True, "metadata": {}},
        ],
    }
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(seed))
    first = convert(spark, tmp_path, out, "m-0001", [{"id": 1, "count": 5}], SCHEMA_PATH=schema_path)
    assert first["contract"]["source"] == f"schema_path:{schema_path}"
    assert first["contract"]["columns_added"] == ["id", "count"]
    assert first["contract"]["values_converted"] == {"count": 1}  # the JSON integer (int64) into int32
    assert contract_file(out).field("count").type == pa.int32()
    line = f'{{"id": 3, "count": {2**40}}}'
    second = convert(spark, tmp_path, out, "m-0002", ['{"id": 2, "count": 7}', line])
    assert second["contract"]["promoted"] == [] and second["contract"]["records_quarantined"] == 1
    assert reasons(out, "m-0002") == {
        line: "schema_contract: field 'count' holds a number value that cannot be converted to the table type "
        "int32"
    }
    assert contract_file(out).field("count").type == pa.int32()
    assert file_types(out, "count") == {"int32"}
    frame = spark.read.parquet(str(out / f"dt={DATE}"))
    assert dict(frame.dtypes)["count"] == "int"
    assert sorted(r["count"] for r in frame.collect()) == [5, 7]


def test_new_column_and_case_variant(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "Amount": 3}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "AMOUNT": 4, "note": "hi"}])
    assert report["contract"]["columns_added"] == ["note"]
    assert contract_file(out).names == ["id", "Amount", "note"]
    assert [c["name"] for c in report["schema"][:3]] == ["id", "Amount", "note"]
    rows = rows_by_id(out)
    assert rows[2]["Amount"] == 4 and rows[2]["note"] == "hi" and rows[1]["note"] is None
    frame = spark.read.option("mergeSchema", "true").parquet(str(out / f"dt={DATE}"))
    assert sorted(r["Amount"] for r in frame.collect()) == [3, 4]


def test_all_null_contract_column_keeps_its_type_and_rerun_replaces(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "amount": 3}])
    report = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "amount": None}])
    assert report["contract"]["columns_added"] == [] and file_types(out, "amount") == {"int64"}
    again = convert(spark, tmp_path, out, "m-0002", [{"id": 2, "amount": None}])
    assert again["status"] == "succeeded" and len(parquet_files(out)) == 2


@pytest.fixture(scope="module")
def glue_endpoint():
    from moto.server import ThreadedMotoServer

    from pipeline.embedded.server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_glue_table_columns_are_the_contract(spark, tmp_path, out, glue_endpoint, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", glue_endpoint)
    glue = boto3.client("glue", endpoint_url=glue_endpoint, region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "lake"})
    catalog = {"CATALOG_DATABASE": "lake", "CATALOG_TABLE": "events"}
    first = convert(spark, tmp_path, out, "m-0001", [{"id": 1, "amount": 3, "user": {"n": "a"}}], **catalog)
    assert first["contract"]["source"] == "glue:lake.events"
    columns = glue.get_table(DatabaseName="lake", Name="events")["Table"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("id", "bigint"),
        ("amount", "bigint"),
        ("user", "struct<n:string>"),
        ("_source_file", "string"),
        ("_manifest_id", "string"),
        ("_ingested_at", "timestamp"),
    ]
    assert not (out / "_schema").exists()  # the catalog holds the contract
    line = '{"id": 3, "amount": "x", "user": {"n": "c", "age": 4}}'
    second = convert(
        spark,
        tmp_path,
        out,
        "m-0002",
        ['{"id": 2, "amount": "5", "user": {"n": "b", "age": 3}}', line],
        **catalog,
    )
    assert second["contract"]["columns_added"] == ["user.age"]
    assert second["contract"]["values_converted"] == {"amount": 1}
    assert reasons(out, "m-0002") == {
        line: "schema_contract: field 'amount' holds a string value that cannot be converted to the table "
        "type int64"
    }
    table = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]][2] == (
        "user",
        "struct<n:string,age:bigint>",
    )
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert file_types(out, "amount") == {"int64"}
    assert rows_by_id(out)[2]["amount"] == 5
