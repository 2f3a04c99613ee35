"""A completed manifest is registered in the Glue Data Catalog by the status update, before it is recorded."""

from __future__ import annotations

import pytest

from pipeline.control_plane.bootstrap import handle_event

from .conftest import REGION, LambdaContext, s3_record, sqs_event

DAY = "2026-11-21"
SCHEMA = [
    {"name": "event_id", "type": "string"},
    {"name": "occurred_at", "type": "timestamp[us, tz=UTC]"},
    {"name": "user", "type": "struct<id: int64, traits: struct<plan: string>>"},
    {"name": "tags", "type": "list<item: string>"},
    {"name": "_source_file", "type": "string"},
    {"name": "_manifest_id", "type": "string"},
    {"name": "_ingested_at", "type": "timestamp[us, tz=UTC]"},
]


@pytest.fixture
def catalog_env(env, monkeypatch):
    monkeypatch.setenv("GLUE_DATABASE", "lake")
    monkeypatch.setenv("GLUE_TABLE", "events")
    monkeypatch.setenv("OUTPUT_PATH", "s3://output-bucket/events/")
    env.session.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "lake"})
    return env


def _manifest(env, app):
    handle_event(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]), LambdaContext())
    (item,) = env.manifest_items(DAY)
    return item["manifest_id"]


def test_completed_manifest_adds_table_and_partition(catalog_env):
    env = catalog_env
    app = env.app(max_files_per_manifest=3)
    manifest_id = _manifest(env, app)
    report = {
        "manifest_id": manifest_id,
        "records_in": 10,
        "records_out": 10,
        "bad_records": 0,
        "schema": SCHEMA,
    }
    result = handle_event(
        app,
        {
            "action": "complete",
            "manifest_id": manifest_id,
            "date_prefix": DAY,
            "status": "completed",
            "report": report,
        },
        LambdaContext(),
    )
    assert result["status"] == "completed"
    glue = env.session.client("glue", region_name=REGION)
    table = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    columns = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert columns["occurred_at"] == "timestamp"
    assert columns["user"] == "struct<id:bigint,traits:struct<plan:string>>"
    assert columns["tags"] == "array<string>"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    partition = glue.get_partition(DatabaseName="lake", TableName="events", PartitionValues=[DAY])[
        "Partition"
    ]
    assert partition["StorageDescriptor"]["Location"] == f"s3://output-bucket/events/dt={DAY}/"


def test_failed_manifest_registers_nothing(catalog_env):
    env = catalog_env
    app = env.app(max_files_per_manifest=3)
    manifest_id = _manifest(env, app)
    handle_event(
        app,
        {
            "action": "complete",
            "manifest_id": manifest_id,
            "date_prefix": DAY,
            "status": "failed",
            "error": "BadRecordRatioExceeded",
            "cause": "too many bad lines",
        },
        LambdaContext(),
    )
    glue = env.session.client("glue", region_name=REGION)
    assert glue.get_tables(DatabaseName="lake")["TableList"] == []


def test_bad_catalog_setting_is_named_at_cold_start(env, monkeypatch):
    from pipeline.control_plane.domain.catalog_schema import CatalogError

    monkeypatch.setenv("GLUE_DATABASE", "Bad-Name")
    monkeypatch.setenv("OUTPUT_PATH", "s3://output-bucket/events/")
    with pytest.raises(CatalogError, match="GLUE_DATABASE"):
        env.app()


ICEBERG_PARAMETERS = {
    "table_type": "ICEBERG",
    "metadata_location": "s3://output-bucket/events/metadata/1.json",
}


def test_iceberg_format_never_registers_or_touches_a_hive_table_of_the_same_name(catalog_env):
    """The job creates and commits the Iceberg table: the status update must leave the catalog alone."""
    env = catalog_env
    glue = env.session.client("glue", region_name=REGION)
    glue.create_table(
        DatabaseName="lake",
        TableInput={"Name": "events", "TableType": "EXTERNAL_TABLE", "Parameters": ICEBERG_PARAMETERS},
    )
    before = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    app = env.app(max_files_per_manifest=3, table_format="iceberg")
    manifest_id = _manifest(env, app)
    report = {"manifest_id": manifest_id, "records_in": 10, "records_out": 10, "schema": SCHEMA}
    result = handle_event(
        app,
        {
            "action": "complete",
            "manifest_id": manifest_id,
            "date_prefix": DAY,
            "status": "completed",
            "report": report,
        },
        LambdaContext(),
    )
    assert result["status"] == "completed"
    after = glue.get_table(DatabaseName="lake", Name="events")["Table"]
    assert after["Parameters"] == ICEBERG_PARAMETERS
    assert after.get("VersionId") == before.get("VersionId")
    assert "PartitionKeys" not in after or after["PartitionKeys"] == []
    assert glue.get_partitions(DatabaseName="lake", TableName="events")["Partitions"] == []
    (item,) = env.manifest_items(DAY)
    assert item["status"] == "completed"


def test_iceberg_format_skips_the_catalog_settings_entirely(env, monkeypatch):
    # No Glue registration is built, so a catalog setting only parquet needs cannot fail the cold start.
    monkeypatch.setenv("GLUE_DATABASE", "Bad-Name")
    monkeypatch.setenv("OUTPUT_PATH", "s3://output-bucket/events/")
    assert env.app(table_format="iceberg").service.catalog is None


def test_table_format_setting_is_typed_and_validated():
    from pipeline.contracts.errors import InvalidConfiguration
    from pipeline.control_plane.config import ControlPlaneConfig

    base = {
        "TRACKING_TABLE": "tracking",
        "MANIFEST_BUCKET": "manifest-bucket",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:ndjson-to-parquet",
    }
    assert ControlPlaneConfig.from_env(base).table_format == "parquet"  # unset: today's behaviour
    assert ControlPlaneConfig.from_env(base).registers_catalog_partitions
    iceberg = ControlPlaneConfig.from_env({**base, "TABLE_FORMAT": " Iceberg "})
    assert iceberg.table_format == "iceberg"
    assert not iceberg.registers_catalog_partitions
    with pytest.raises(InvalidConfiguration, match=r"TABLE_FORMAT='delta': expected one of iceberg, parquet"):
        ControlPlaneConfig.from_env({**base, "TABLE_FORMAT": "delta"})
