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
