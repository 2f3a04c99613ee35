"""Glue Data Catalog registration: the pure schema mapping, and register_manifest_output against moto."""

from __future__ import annotations

import json

import pytest

from pipeline.control_plane.adapters.catalog import register_manifest_output, set_partition_location
from pipeline.control_plane.domain.catalog_schema import (
    INPUT_FORMAT,
    SERDE,
    CatalogError,
    Column,
    UnsupportedSchema,
    map_schema,
    merge_columns,
)

SPARK_SCHEMA = {
    "type": "struct",
    "fields": [
        {"name": "event_id", "type": "string", "nullable": True, "metadata": {}},
        {"name": "userId", "type": "long", "nullable": True, "metadata": {}},
        {"name": "amount", "type": "decimal(12,2)", "nullable": True, "metadata": {}},
        {"name": "ts", "type": "timestamp", "nullable": True, "metadata": {}},
        {
            "name": "tags",
            "type": {"type": "array", "elementType": "string", "containsNull": True},
            "nullable": True,
            "metadata": {},
        },
        {
            "name": "attrs",
            "type": {"type": "map", "keyType": "string", "valueType": "double", "valueContainsNull": True},
            "nullable": True,
            "metadata": {},
        },
        {
            "name": "device",
            "type": {
                "type": "struct",
                "fields": [
                    {"name": "os", "type": "string", "nullable": True, "metadata": {}},
                    {"name": "screen-size", "type": "integer", "nullable": True, "metadata": {}},
                ],
            },
            "nullable": True,
            "metadata": {},
        },
        {"name": "always_null", "type": "void", "nullable": True, "metadata": {}},
        {"name": "bad name", "type": "string", "nullable": True, "metadata": {}},
        {"name": "USERID", "type": "string", "nullable": True, "metadata": {}},
        {"name": "_source_file", "type": "string", "nullable": False, "metadata": {}},
        {"name": "_manifest_id", "type": "string", "nullable": False, "metadata": {}},
        {"name": "_ingested_at", "type": "timestamp", "nullable": False, "metadata": {}},
        {"name": "dt", "type": "string", "nullable": True, "metadata": {}},
    ],
}


def test_spark_schema_maps_to_hive_types_under_athena_rules():
    mapped = map_schema(SPARK_SCHEMA)
    types = {col.name: col.type for col in mapped.columns}
    assert types == {
        "event_id": "string",
        "userid": "bigint",
        "amount": "decimal(12,2)",
        "ts": "timestamp",
        "tags": "array<string>",
        "attrs": "map<string,double>",
        "device": "struct<os:string>",
        "always_null": "string",
        "_source_file": "string",
        "_manifest_id": "string",
        "_ingested_at": "timestamp",
    }
    # Order is the file's order; dt is the partition key, never a data column.
    assert [col.name for col in mapped.columns][:3] == ["event_id", "userid", "amount"]
    assert any(s.startswith("bad name:") for s in mapped.skipped)
    assert any(s.startswith("USERID:") and "collides" in s for s in mapped.skipped)
    assert any(s.startswith("device.screen-size:") for s in mapped.skipped)


def test_arrow_and_string_forms_are_accepted():
    mapped = map_schema(
        json.dumps(
            [
                {"name": "a", "type": "int64"},
                {"name": "b", "type": "timestamp[us, tz=UTC]"},
                {"name": "c", "type": "large_string"},
                {"name": "d", "type": "bool"},
            ]
        )
    )
    assert [(c.name, c.type) for c in mapped.columns] == [
        ("a", "bigint"),
        ("b", "timestamp"),
        ("c", "string"),
        ("d", "boolean"),
    ]


@pytest.mark.parametrize("schema", [None, 3, {"type": "array"}, [], [{"name": "x"}], "{not json"])
def test_bad_schemas_fail_with_a_named_error(schema):
    with pytest.raises(UnsupportedSchema):
        map_schema(schema)


def test_unknown_type_is_skipped_not_guessed():
    mapped = map_schema([{"name": "a", "type": "string"}, {"name": "b", "type": "interval"}])
    assert [c.name for c in mapped.columns] == ["a"]
    assert mapped.skipped and mapped.skipped[0].startswith("b:")


def test_merge_appends_and_never_retypes():
    existing = [Column("a", "string"), Column("b", "bigint")]
    merged, added, conflicts = merge_columns(
        existing, [Column("b", "double"), Column("c", "int"), Column("a", "string")]
    )
    assert merged == [Column("a", "string"), Column("b", "bigint"), Column("c", "int")]
    assert added == ["c"]
    assert conflicts == ["b: table has bigint, new data has double"]


def _report(fields, codec="zstd"):
    return {
        "manifest_id": "m",
        "schema": {
            "type": "struct",
            "fields": [{"name": n, "type": t, "nullable": True, "metadata": {}} for n, t in fields],
        },
        "codec": codec,
    }


def test_register_creates_table_partitions_and_widens_on_drift(fresh_aws):
    glue = fresh_aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    location = "s3://out-bucket/events/"

    first = register_manifest_output(
        glue,
        "lake",
        "events",
        location,
        "2026-11-21",
        _report([("id", "string"), ("n", "long"), ("_source_file", "string")]),
    )
    assert first.table_created and first.partition_created
    table = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == SERDE
    assert sd["InputFormat"] == INPUT_FORMAT
    assert sd["Location"] == location
    assert table["PartitionKeys"] == [
        {"Name": "dt", "Type": "string", "Comment": "UTC date prefix (YYYY-MM-DD)"}
    ]
    assert table["TableType"] == "EXTERNAL_TABLE"

    # Same date again (a second manifest of the day): nothing to create.
    again = register_manifest_output(
        glue, "lake", "events", location, "2026-11-21", _report([("id", "string"), ("n", "long")])
    )
    assert not again.table_created and not again.partition_created and again.columns_added == []

    # Next date with a new column and a type drift on n.
    drift = register_manifest_output(
        glue,
        "lake",
        "events",
        location,
        "2026-11-22",
        _report([("id", "string"), ("n", "double"), ("Country", "string")]),
    )
    assert drift.partition_created
    assert drift.columns_added == ["country"]
    assert drift.type_conflicts == ["n: table has bigint, new data has double"]
    columns = glue.get_table(DatabaseName="lake", Name="events")["Table"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [
        ("id", "string"),
        ("n", "bigint"),
        ("_source_file", "string"),
        ("country", "string"),
    ]

    partitions = glue.get_partitions(DatabaseName="lake", TableName="events")["Partitions"]
    by_date = {p["Values"][0]: p["StorageDescriptor"] for p in partitions}
    assert set(by_date) == {"2026-11-21", "2026-11-22"}
    assert by_date["2026-11-22"]["Location"] == "s3://out-bucket/events/dt=2026-11-22/"
    assert by_date["2026-11-21"]["Location"] == "s3://out-bucket/events/dt=2026-11-21/"
    # The partition filter Athena would push down works on the catalog.
    found = glue.get_partitions(DatabaseName="lake", TableName="events", Expression="dt = '2026-11-22'")
    assert [p["Values"] for p in found["Partitions"]] == [["2026-11-22"]]


def test_register_never_moves_an_existing_partition(fresh_aws):
    glue = fresh_aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    register_manifest_output(glue, "lake", "events", "s3://b/out", "2026-11-21", _report([("a", "string")]))
    assert set_partition_location(
        glue, "lake", "events", "2026-11-21", "s3://b/out/_replays/r1/dt=2026-11-21/"
    )
    result = register_manifest_output(
        glue, "lake", "events", "s3://b/out", "2026-11-21", _report([("a", "string"), ("b", "int")])
    )
    assert result.partition_location == "s3://b/out/_replays/r1/dt=2026-11-21/"
    part = glue.get_partition(DatabaseName="lake", TableName="events", PartitionValues=["2026-11-21"])[
        "Partition"
    ]
    assert part["StorageDescriptor"]["Location"] == "s3://b/out/_replays/r1/dt=2026-11-21/"
    assert [c["Name"] for c in part["StorageDescriptor"]["Columns"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("database", "table", "date", "location"),
    [
        ("Lake", "events", "2026-11-21", "s3://b/o/"),
        ("lake", "my-events", "2026-11-21", "s3://b/o/"),
        ("lake", "events", "21-11-2026", "s3://b/o/"),
        ("lake", "events", "2026-11-21", "/tmp/o"),
    ],
)
def test_bad_names_are_refused_before_any_call(database, table, date, location):
    with pytest.raises(CatalogError):
        register_manifest_output(object(), database, table, location, date, _report([("a", "string")]))


def test_the_glue_jobs_arrow_report_schema_maps_nested_types():
    import pyarrow as pa

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("n", pa.int64()),
            ("price", pa.decimal128(10, 2)),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("tags", pa.list_(pa.string())),
            ("device", pa.struct([("os", pa.string()), ("Version", pa.int32()), ("bad key", pa.string())])),
            ("scores", pa.map_(pa.string(), pa.float64())),
            ("events", pa.list_(pa.struct([("kind", pa.string()), ("at", pa.timestamp("us", tz="UTC"))]))),
            ("flag", pa.bool_()),
            ("ratio", pa.float32()),
            ("day", pa.date32()),
            ("span", pa.duration("s")),
        ]
    )
    # Exactly what the Glue job writes into its report.
    report_schema = [{"name": f.name, "type": str(f.type)} for f in schema]
    mapped = map_schema(report_schema)
    assert {c.name: c.type for c in mapped.columns} == {
        "id": "string",
        "n": "bigint",
        "price": "decimal(10,2)",
        "ts": "timestamp",
        "tags": "array<string>",
        "device": "struct<os:string,version:int>",
        "scores": "map<string,double>",
        "events": "array<struct<kind:string,at:timestamp>>",
        "flag": "boolean",
        "ratio": "float",
        "day": "date",
    }
    assert any(s.startswith("device.bad key:") for s in mapped.skipped)
    assert any(s.startswith("span:") for s in mapped.skipped)
    # Spark simpleStrings read the same way.
    spark = map_schema([{"name": "s", "type": "struct<a:bigint,b:array<string>>"}])
    assert spark.columns[0].type == "struct<a:bigint,b:array<string>>"


def test_catalog_target_from_the_lambda_environment(fresh_aws):
    from pipeline.control_plane.adapters.catalog import CatalogTarget

    assert CatalogTarget.from_env({}) is None  # registration off
    target = CatalogTarget.from_env({"GLUE_DATABASE": "lake", "OUTPUT_PATH": "s3://b/out"})
    assert target == CatalogTarget("lake", "events", "s3://b/out/")
    with pytest.raises(CatalogError) as caught:
        CatalogTarget.from_env({"GLUE_DATABASE": "Lake-1", "GLUE_TABLE": "ok", "OUTPUT_PATH": "/tmp/x"})
    assert "GLUE_DATABASE" in str(caught.value) and "OUTPUT_PATH" in str(caught.value)
    glue = fresh_aws.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake"})
    result = target.register(glue, "2026-11-22", _report([("a", "string")]))
    assert result.partition_created and result.partition_location == "s3://b/out/dt=2026-11-22/"
