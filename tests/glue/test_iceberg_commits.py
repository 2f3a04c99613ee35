"""The Iceberg adapter's commits (glue_jobs/ndjson_to_parquet/iceberg.py) with real pyiceberg: a local SQLite
catalog and the Glue catalog + S3 of a moto server. Files are written as the write tasks write them (pyarrow,
no field ids, a `dt` column), then published through `IcebergTarget`.

Faults: a second commit of a manifest, a commit whose response is lost (the Glue UpdateTable succeeds, its answer
never arrives), concurrent commits from several threads, a run that wrote files and never committed, a concurrent
schema change."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.ndjson_to_parquet.args import parse_job_args
from glue_jobs.ndjson_to_parquet.contract import Evolution
from glue_jobs.ndjson_to_parquet.errors import JobError
from glue_jobs.ndjson_to_parquet.iceberg import (
    SUMMARY_MANIFEST,
    IcebergTarget,
    TableRef,
    compare_schemas,
    file_schema,
    open_catalog,
    snapshots_with,
)
from glue_jobs.ndjson_to_parquet.manifest import Manifest
from glue_jobs.ndjson_to_parquet.parquet import StagedFile
from glue_jobs.ndjson_to_parquet.storage import Storage, make_parent
from pipeline.embedded.server import free_port

DAY = "2026-10-05"
BASE = pa.schema([("amount", pa.int64()), ("flag", pa.bool_())])


def job_args(output: str, *extra: str):
    base = ["--JOB_NAME", "t", "--MANIFEST_PATH", "m", "--OUTPUT_PATH", output, "--COMPRESSION_TYPE", "zstd"]
    return parse_job_args([*base, "--TABLE_FORMAT", "iceberg", *extra])


def write_files(target: IcebergTarget, manifest: Manifest, data: pa.Schema, rows: list[dict], run_id: str):
    """One Parquet file of `rows` as a write task writes it (the file schema, the dt column)."""
    count = len(rows)
    columns = {f.name: [row.get(f.name) for row in rows] for f in data}
    table = pa.table(
        {
            **columns,
            "_source_file": ["s3://in/a.ndjson"] * count,
            "_manifest_id": [manifest.manifest_id] * count,
            "_ingested_at": [dt.datetime.now(dt.UTC)] * count,
            "dt": [manifest.date_prefix] * count,
        },
        schema=file_schema(data),
    )
    path = f"{target.write_dir('', manifest)}/{target.file_prefix(manifest.manifest_id, run_id)}.part-00000-000.parquet"
    filesystem, inner = target.storage.fs(path)
    make_parent(filesystem, inner)
    with filesystem.open_output_stream(inner) as sink:
        pq.write_table(table, sink)
    return [StagedFile(path, count, filesystem.get_file_info(inner).size)]


def convert(args, manifest_id: str, data: pa.Schema, rows: list[dict], date: str = DAY) -> dict:
    """What the driver does: already committed? else write files and publish them."""
    target = IcebergTarget(args, Storage.from_env())
    earlier = target.already_committed(manifest_id)
    if earlier is not None:
        return earlier
    manifest = Manifest(manifest_id, date, None, ())
    files = write_files(target, manifest, data, rows, uuid.uuid4().hex[:8])
    return target.publish(files, Evolution(data), manifest, "run")


def load(args):
    ref = TableRef.of(args)
    return open_catalog(ref).load_table(ref.identifier)


def rows_of(args, **scan) -> list[dict]:
    table = load(args)
    return sorted(
        table.scan(**scan).to_arrow().to_pylist(), key=lambda r: (r["_manifest_id"], r["amount"] or 0)
    )


# ------------------------------------------------------------------------------------------ local catalog


def test_local_catalog_commit_once_and_rerun(tmp_path):
    args = job_args(str(tmp_path / "lake"))
    first = convert(args, "m1", BASE, [{"amount": 1, "flag": True}, {"amount": 2, "flag": False}])
    assert first["commit"] == "committed" and first["added_rows"] == 2 and first["added_files"] == 1
    again = convert(args, "m1", BASE, [{"amount": 1, "flag": True}])
    assert again["commit"] == "already_committed" and again["snapshot_id"] == first["snapshot_id"]
    assert [r["amount"] for r in rows_of(args)] == [1, 2]
    assert (tmp_path / "lake" / "_catalog" / "iceberg.db").is_file()


def test_schema_change_commits_with_the_files(tmp_path):
    args = job_args(str(tmp_path / "lake"))
    convert(args, "m1", BASE, [{"amount": 1, "flag": True}])
    wider = pa.schema([*BASE, ("extra", pa.struct([("k", pa.string())]))])
    report = convert(args, "m2", wider, [{"amount": 2, "flag": None, "extra": {"k": "v"}}])
    assert report["commit"] == "committed"
    table = load(args)
    assert "extra" in table.schema().column_names
    by_manifest = {r["_manifest_id"]: r for r in rows_of(args)}
    assert by_manifest["m1"]["extra"] is None and by_manifest["m2"]["extra"] == {"k": "v"}
    # time travel: the first snapshot still has the first schema's rows only
    first = snapshots_with(table, SUMMARY_MANIFEST, "m1")[0]
    assert [r["amount"] for r in table.scan(snapshot_id=first.snapshot_id).to_arrow().to_pylist()] == [1]


def test_uncommitted_files_are_invisible(tmp_path):
    args = job_args(str(tmp_path / "lake"))
    convert(args, "m1", BASE, [{"amount": 1, "flag": True}])
    target = IcebergTarget(args, Storage.from_env())
    manifest = Manifest("killed", DAY, None, ())
    target.contract()
    files = write_files(target, manifest, BASE, [{"amount": 99, "flag": True}], "dead")
    # the job is killed here: the files exist, no commit references them
    assert (tmp_path / "lake" / "data" / f"dt={DAY}").joinpath(files[0].staged.rsplit("/", 1)[1]).is_file()
    assert [r["amount"] for r in rows_of(args)] == [1]
    assert target.already_committed("killed") is None


def test_schema_comparison_rules():
    table = pa.schema([("a", pa.int64()), ("s", pa.struct([("x", pa.string())])), ("n", pa.int32())])
    assert compare_schemas(table, pa.schema([("a", pa.int64())])) == (None, False)
    assert compare_schemas(table, pa.schema([("b", pa.string())])) == (None, True)
    assert compare_schemas(table, pa.schema([("s", pa.struct([("x", pa.string()), ("y", pa.bool_())]))])) == (
        None,
        True,
    )
    assert compare_schemas(table, pa.schema([("n", pa.int64())])) == (None, True)  # int -> long
    why, _ = compare_schemas(table, pa.schema([("a", pa.string())]))
    assert why is not None and "'a'" in why


# ------------------------------------------------------------------------------------------ Glue catalog on moto


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    from pipeline.embedded import bridges

    bridges.install()  # the embedded AWS's moto: Glue's UpdateTable honours VersionId as on AWS
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def glue_lake(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    database = f"db_{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": database})
    return job_args(f"s3://{bucket}/events", "--CATALOG_DATABASE", database, "--CATALOG_TABLE", "events")


def test_glue_catalog_commit_and_rerun(glue_lake):
    first = convert(glue_lake, "m1", BASE, [{"amount": 1, "flag": True}])
    assert first["commit"] == "committed" and first["metadata_location"].startswith("s3://")
    assert convert(glue_lake, "m1", BASE, [{"amount": 1, "flag": True}])["commit"] == "already_committed"
    assert [r["amount"] for r in rows_of(glue_lake)] == [1]


def test_concurrent_commits_none_lost(glue_lake):
    convert(glue_lake, "m0", BASE, [{"amount": 0, "flag": True}])  # the table exists before the race
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            convert(
                glue_lake, f"c{index}", BASE, [{"amount": index * 10 + k, "flag": True} for k in range(3)]
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = load(glue_lake)
    for index in range(1, 6):
        assert len(snapshots_with(table, SUMMARY_MANIFEST, f"c{index}")) == 1
    assert sorted(r["amount"] for r in rows_of(glue_lake)) == sorted(
        [0] + [i * 10 + k for i in range(1, 6) for k in range(3)]
    )


def test_lost_commit_response_commits_once(glue_lake):
    convert(glue_lake, "m0", BASE, [{"amount": 0, "flag": True}])
    target = IcebergTarget(glue_lake, Storage.from_env())
    manifest = Manifest("lost", DAY, None, ())
    target.contract()
    files = write_files(target, manifest, BASE, [{"amount": 7, "flag": False}], "r1")
    glue = target.catalog.glue  # the catalog's boto3 client: the fault is injected at the AWS boundary
    lost = {"count": 0}

    def drop_response(**kwargs):
        if lost["count"] == 0:
            lost["count"] += 1
            raise ConnectionError("the UpdateTable response was lost")

    glue.meta.events.register("after-call.glue.UpdateTable", drop_response)
    try:
        report = target.publish(files, Evolution(BASE), manifest, "r1")
    finally:
        glue.meta.events.unregister("after-call.glue.UpdateTable", drop_response)
    assert lost["count"] == 1
    assert report["commit"] == "committed" and report["commit_attempts"] == 2
    table = load(glue_lake)
    assert len(snapshots_with(table, SUMMARY_MANIFEST, "lost")) == 1
    assert sorted(r["amount"] for r in rows_of(glue_lake)) == [0, 7]


def test_concurrent_incompatible_schema_change_fails_clearly(glue_lake):
    convert(glue_lake, "m0", BASE, [{"amount": 0, "flag": True}])
    target = IcebergTarget(glue_lake, Storage.from_env())
    manifest = Manifest("late", DAY, None, ())
    target.contract()
    wider = pa.schema([*BASE, ("note", pa.int64())])
    files = write_files(target, manifest, wider, [{"amount": 1, "flag": True, "note": 5}], "r1")
    # meanwhile another run adds `note` as a string
    convert(glue_lake, "other", pa.schema([*BASE, ("note", pa.string())]), [{"amount": 2, "note": "x"}])
    with pytest.raises(JobError) as caught:
        target.publish(files, Evolution(wider), manifest, "r1")
    assert caught.value.error_name == "TableSchemaChanged" and "'note'" in str(caught.value)
    assert snapshots_with(load(glue_lake), SUMMARY_MANIFEST, "late") == []
