"""Iceberg table maintenance (glue_jobs/ndjson_to_parquet/maintenance.py) on real pyiceberg tables: a local SQLite
catalog, and the Glue catalog + S3 of a moto server. Files are added the way the job commits them (pyarrow files
without field ids under data/dt=D/, `add_files` with the manifest id in the snapshot summary)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.ndjson_to_parquet import maintenance as mt
from glue_jobs.ndjson_to_parquet.args import parse_job_args
from glue_jobs.ndjson_to_parquet.errors import JobError
from glue_jobs.ndjson_to_parquet.iceberg import (
    SUMMARY_MANIFEST,
    SUMMARY_OPERATION,
    TableRef,
    create_table,
    data_files_of,
    file_schema,
    load_table,
    open_catalog,
)
from glue_jobs.ndjson_to_parquet.storage import Storage, join

TS = pa.timestamp("us", tz="UTC")
V1 = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.int32())])
V2 = pa.schema([pa.field("id", pa.int64()), pa.field("amount", pa.int64()), pa.field("note", pa.string())])


def _rows(schema: pa.Schema, date: str, start: int, count: int, manifest: str) -> pa.Table:
    data: dict[str, Any] = {
        "id": list(range(start, start + count)),
        "amount": [i % 7 for i in range(start, start + count)],
    }
    if "note" in schema.names:
        data["note"] = [f"n{i}" if i % 3 else None for i in range(start, start + count)]
    data["_source_file"] = [f"s3://in/{manifest}.ndjson"] * count
    data["_manifest_id"] = [manifest] * count
    data["_ingested_at"] = [dt.datetime(2026, 11, 30, tzinfo=dt.UTC)] * count
    data["dt"] = [date] * count
    return pa.table(data, schema=file_schema(schema))


def add_manifest(table: Any, storage: Storage, schema: pa.Schema, date: str, start: int, count: int) -> str:
    """Write one file as a job run does and commit it (schema change in the same commit)."""
    manifest = f"m-{date}-{start}"
    path = join(table.location(), "data", f"dt={date}", f"{manifest}.run.part-0-000.parquet")
    filesystem, fs_path = storage.fs(path)
    if not path.startswith("s3://"):
        Path(fs_path).parent.mkdir(parents=True, exist_ok=True)
    with filesystem.open_output_stream(fs_path) as sink:
        pq.write_table(_rows(schema, date, start, count, manifest), sink, compression="zstd")
    transaction = table.transaction()
    with transaction.update_schema() as update:
        update.union_by_name(file_schema(schema))
    transaction.add_files(
        [path], snapshot_properties={SUMMARY_MANIFEST: manifest}, check_duplicate_files=False
    )
    transaction.commit_transaction()
    return path


def row_multiset(table: Any) -> Counter[tuple[Any, ...]]:
    rows = table.refresh().scan().to_arrow()
    names = ["id", "amount", "note", "_source_file", "_manifest_id", "_ingested_at", "dt"]
    return Counter(tuple(row[n] for n in names) for row in rows.select(names).to_pylist())


def build_table(ref: TableRef, storage: Storage) -> Any:
    """Dates 2026-11-28 (12 files, V1 then V2 schema), 2026-11-29 (1 file: nothing to compact)."""
    table = create_table(open_catalog(ref), ref, V1)
    start = 0
    for index in range(12):
        add_manifest(table, storage, V1 if index < 5 else V2, "2026-11-28", start, 20 + index)
        start += 100
    add_manifest(table, storage, V2, "2026-11-29", start, 30)
    return table.refresh()


@pytest.fixture
def local_table(tmp_path: Path) -> tuple[TableRef, Any]:
    ref = TableRef(None, "events", str(tmp_path / "out"))
    return ref, build_table(ref, Storage())


def test_compaction_one_commit_no_row_lost_or_duplicated(local_table):
    _, table = local_table
    before = row_multiset(table)
    old_files = {f.file_path for f in data_files_of(table, "2026-11-28")}
    other_day = {f.file_path for f in data_files_of(table, "2026-11-29")}
    snapshots = len(table.metadata.snapshots)

    result = mt.compact(table, Storage(), None, 8 * 1024 * 1024, "zstd")

    table = table.refresh()
    assert row_multiset(table) == before  # by value: every row once, the old int32 files read as int64
    assert len(table.metadata.snapshots) == snapshots + 1  # ONE commit
    summary = table.current_snapshot().summary
    assert summary.additional_properties[SUMMARY_OPERATION] == "compact"
    assert summary["deleted-data-files"] == "12"
    new_files = {f.file_path for f in data_files_of(table, "2026-11-28")}
    assert not new_files & old_files and len(new_files) == 1
    assert all(Path(p).name.startswith("compact-") for p in new_files)
    assert {f.file_path for f in data_files_of(table, "2026-11-29")} == other_day  # 1 file: left alone
    day = result.partitions["2026-11-28"]
    assert (day.files_before, day.files_after, day.files_compacted, day.files_written) == (12, 1, 12, 1)
    assert day.bytes_after < day.bytes_before
    assert result.partitions["2026-11-29"].files_compacted == 0
    # the rewritten file has the table's file layout (data columns, metadata columns, dt)
    assert pq.read_schema(next(iter(new_files))).names == [*V2.names, *file_schema(V2).names[3:]]


def test_compaction_keeps_an_append_committed_between_plan_and_commit(local_table):
    ref, table = local_table
    before = row_multiset(table)
    appended: list[str] = []

    def race(plan: mt.CompactionPlan) -> None:  # another run commits to the same partition meanwhile
        other = load_table(open_catalog(ref), ref)
        appended.append(add_manifest(other, Storage(), V2, "2026-11-28", 50_000, 17))

    mt.compact(table, Storage(), "2026-11-28", 8 * 1024 * 1024, "zstd", before_commit=race)

    table = table.refresh()
    after = row_multiset(table)
    assert sum(after.values()) == sum(before.values()) + 17
    assert after - before == Counter({k: v for k, v in after.items() if k[0] >= 50_000})
    assert not before - after  # nothing lost
    live = {f.file_path for f in data_files_of(table, "2026-11-28")}
    assert appended[0] in live and len(live) == 2
    operations = [s.summary.additional_properties.get(SUMMARY_OPERATION) for s in table.metadata.snapshots]
    assert operations[-1] == "compact"


def test_compaction_conflict_with_another_rewrite_changes_nothing(local_table):
    ref, table = local_table
    before = row_multiset(table)

    def rival(plan: mt.CompactionPlan) -> None:
        other = load_table(open_catalog(ref), ref)
        mt.compact(other, Storage(), "2026-11-28", 8 * 1024 * 1024, "zstd")

    with pytest.raises(JobError) as caught:
        mt.compact(table, Storage(), "2026-11-28", 8 * 1024 * 1024, "zstd", before_commit=rival)
    assert caught.value.error_name == "CompactionConflict"
    table = table.refresh()
    assert row_multiset(table) == before
    files = list((Path(ref.location) / "data" / "dt=2026-11-28").glob("compact-*.parquet"))
    assert len(files) == 1  # the loser's files were deleted; the winner's is the live one


def test_expire_and_remove_orphans_keep_what_kept_snapshots_need(local_table):
    ref, table = local_table
    storage = Storage()
    mt.compact(table, storage, None, 8 * 1024 * 1024, "zstd")
    location = Path(ref.location)
    stray = (
        location / "data" / "dt=2026-11-28" / "m-dead.run.part-0-000.parquet"
    )  # a run that never committed
    stray.write_bytes(b"PAR1")
    protected = [location / "_reports" / "r.json", location / "_bad_records" / "b.ndjson"]
    for path in protected:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    now = dt.datetime.now(dt.UTC)

    young = mt.remove_orphans(
        table, storage, now - dt.timedelta(hours=1)
    )  # safety window: nothing is old enough
    assert young.orphans_removed == 0 and young.kept_too_young >= 1 and stray.exists()

    # every snapshot kept: the 12 compacted files are still referenced by the older snapshots
    kept = mt.remove_orphans(table, storage, now + dt.timedelta(hours=1))
    assert [Path(p).name for p, _ in kept.removed] == [stray.name]
    assert row_multiset(table) == row_multiset(table)  # readable

    current = table.refresh().current_snapshot().snapshot_id
    expiry = mt.expire(table, now + dt.timedelta(seconds=1))
    table = table.refresh()
    assert expiry.snapshots_expired == expiry.snapshots_before - 1
    assert [s.snapshot_id for s in table.metadata.snapshots] == [current]
    before = row_multiset(table)
    swept = mt.remove_orphans(table, storage, now + dt.timedelta(hours=1))
    names = {Path(p).name for p, _ in swept.removed}
    assert (
        sum(n.endswith(".parquet") and not n.startswith("compact-") for n in names) == 13 - 1
    )  # 12 compacted
    assert any(n.endswith(".avro") for n in names)  # manifests and manifest lists of expired snapshots
    assert all(path.exists() for path in protected)
    assert (location / "_catalog" / "iceberg.db").exists()
    table = table.refresh()
    assert row_multiset(table) == before  # every live file and the metadata chain are intact
    assert mt.remove_orphans(table, storage, now + dt.timedelta(hours=1)).orphans_removed == 0


def test_run_maintenance_local_writes_its_report(local_table):
    ref, _ = local_table
    args = parse_job_args(
        [
            *("--JOB_NAME", "maint", "--MODE", "maintain", "--OUTPUT_PATH", ref.location),
            *("--COMPRESSION_TYPE", "zstd", "--TABLE_FORMAT", "iceberg", "--MAINTAIN_DATE", "2026-11-28"),
            *("--TARGET_FILE_MB", "8"),
        ]
    )
    report = mt.run_maintenance(args)
    assert report["compaction"]["files_compacted"] == 12
    [day] = report["partitions"]
    assert day["date"] == "2026-11-28" and day["files_before"] == 12 and day["files_after"] == 1
    assert report["snapshots"]["snapshots_expired"] == 0  # all younger than the 168 h retention
    assert report["orphans"]["orphans_removed"] == 0  # the compacted files are still referenced
    written = json.loads(Path(report["report_path"]).read_text())
    assert Path(report["report_path"]).parent == Path(ref.location) / "_reports"
    assert written["partitions"] == report["partitions"]


def test_run_maintenance_refuses_parquet(tmp_path):
    args = parse_job_args(
        [
            "--JOB_NAME",
            "m",
            "--MODE",
            "maintain",
            "--OUTPUT_PATH",
            str(tmp_path),
            "--COMPRESSION_TYPE",
            "zstd",
        ]
    )
    with pytest.raises(JobError) as caught:
        mt.run_maintenance(args)
    assert caught.value.error_name == "MaintenanceUnsupported" and "parquet" in caught.value.message


# ------------------------------------------------------------------------------------------ moto: Glue + S3


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    from pipeline.embedded.server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_maintenance_on_glue_catalog_and_s3(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket="maintain-lake"
    )
    boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1").create_database(
        DatabaseInput={"Name": "lakedb"}
    )
    storage = Storage.from_env()
    ref = TableRef("lakedb", "events", "s3://maintain-lake/out")
    table = build_table(ref, storage)
    storage.write_bytes("s3://maintain-lake/out/data/dt=2026-11-28/m-dead.run.part-0-000.parquet", b"PAR1")
    storage.write_bytes("s3://maintain-lake/out/_reports/keep.json", b"{}")
    before = row_multiset(table)

    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    report = mt.maintain(
        table,
        storage,
        date_prefix=None,
        target_bytes=8 * 1024 * 1024,
        codec="zstd",
        retention_hours=1,
        orphan_age_hours=1,
        now=now + dt.timedelta(hours=2),  # everything is "old": expire all but current, sweep all orphans
    )

    table = load_table(open_catalog(ref), ref)
    assert row_multiset(table) == before
    assert len(table.metadata.snapshots) == 1
    days = {p["date"]: p for p in report["partitions"]}
    assert days["2026-11-28"]["files_before"] == 12 and days["2026-11-28"]["files_after"] == 1
    assert days["2026-11-28"]["orphans_removed"] == 13  # 12 compacted away + the never-committed one
    assert report["snapshots"]["snapshots_expired"] == report["snapshots"]["snapshots_before"] - 1
    assert storage.read_bytes("s3://maintain-lake/out/_reports/keep.json") == b"{}"
    listed = {Path(f.path).name for f in mt.list_table_files(storage, "s3://maintain-lake/out")}
    assert "m-dead.run.part-0-000.parquet" not in listed
    assert mt.referenced_files(table) >= {mt._canonical(f.file_path) for f in data_files_of(table, None)}


# ------------------------------------------------------------------------------------------ the entry script

SCRIPT = Path(__file__).resolve().parents[2] / "glue_jobs" / "run_ndjson_to_parquet.py"


def _script(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": ""}  # the script finds its package by itself
    return subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_entry_script_maintain_mode_needs_no_manifest_and_no_spark(local_table):
    ref, _ = local_table
    common = (
        "--JOB_NAME",
        "maint",
        "--MODE",
        "maintain",
        "--OUTPUT_PATH",
        ref.location,
        "--COMPRESSION_TYPE",
    )
    proc = _script(*common, "zstd", "--TABLE_FORMAT", "iceberg", "--TARGET_FILE_MB", "8")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["mode"] == "maintain" and report["compaction"]["files_compacted"] == 12
    assert Path(report["report_path"]).is_file()

    refused = _script(*common, "zstd")  # no --TABLE_FORMAT: plain Parquet
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("MaintenanceUnsupported: ") and "parquet" in refused.stderr


# ------------------------------------------------------------------------------------------ pipeline maintain


def test_pipeline_maintain_command_on_the_stack_catalog(moto_endpoint, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli.app import app

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="stacklake")
    boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1").create_database(
        DatabaseInput={"Name": "stackdb"}
    )
    ref = TableRef("stackdb", "events", "s3://stacklake/lake")
    with monkeypatch.context() as env:  # the stack's table, built as the job builds it
        env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        build_table(ref, Storage.from_env())
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "region": {"value": "us-east-1"},
                "output_path": {"value": "s3://stacklake/lake"},
                "glue_database_name": {"value": "stackdb"},
                "glue_table_name": {"value": "events"},
            }
        )
    )
    base = ["maintain", "--outputs", str(outputs), "--endpoint-url", moto_endpoint, "--target-file-mb", "8"]

    shown = CliRunner().invoke(app, [*base, "--date", "2026-11-29"])
    assert shown.exit_code == 0, shown.output
    assert "2026-11-29" in shown.output and "files before" in shown.output

    result = CliRunner().invoke(app, [*base, "--date", "2026-11-28", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [day] = report["partitions"]
    assert (day["date"], day["files_before"], day["files_after"]) == ("2026-11-28", 12, 1)
    assert report["report_path"].startswith("s3://stacklake/lake/_reports/maintenance-")
    assert "AWS_ENDPOINT_URL" not in os.environ  # the operator session's endpoint was scoped to the run

    missing = CliRunner().invoke(app, [*base[:3], "--endpoint-url", moto_endpoint, "--glue-database", "nodb"])
    assert missing.exit_code == 1


def test_expiry_racing_a_new_batch_retries_and_keeps_the_batch(local_table):
    ref, stale = local_table  # a handle loaded before the batch below commits
    other = load_table(open_catalog(ref), ref)
    added = add_manifest(other, Storage(), V2, "2026-11-30", 90_000, 5)
    cutoff = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    expiry = mt.expire(stale, cutoff)  # decided on the newest metadata, not on the stale handle's

    table = load_table(open_catalog(ref), ref)
    assert len(table.metadata.snapshots) == 1 and expiry.snapshots_expired == 13
    assert table.current_snapshot().summary.additional_properties[SUMMARY_MANIFEST] == "m-2026-11-30-90000"
    assert added in {f.file_path for f in data_files_of(table, "2026-11-30")}
