"""Reading the committed Iceberg table: a real table in moto's Glue catalog and S3 (written by pyiceberg, two
appends with a `manifest-id` each, partitioned by identity(dt)), mirrored to a local folder by the Glue runner's
mirror code, read through the catalog and offline, at the current snapshot and `--as-of` either form, and through
`pipeline query`'s DuckDB view (in process and as the real command in a fresh process with no AWS)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from pipeline.contracts.errors import PipelineError
from pipeline.embedded import iceberg_reads
from pipeline.embedded.glue_runner import GlueRunner, GlueRunRecord
from pipeline.embedded.query import committed_rows_by_manifest, run_query, snapshot_listing
from pipeline.embedded.server import EmbeddedAws, free_port

REPO = Path(__file__).resolve().parents[2]
BUCKET = "lake-bucket"
LOCATION = f"s3://{BUCKET}/lake/events"
DATABASE, TABLE = "pipeline_lake", "events"

SCHEMA = Schema(
    NestedField(1, "event_id", LongType(), required=False),
    NestedField(2, "amount", DoubleType(), required=False),
    NestedField(3, "_source_file", StringType(), required=False),
    NestedField(4, "_manifest_id", StringType(), required=False),
    NestedField(5, "_ingested_at", TimestamptzType(), required=False),
    NestedField(6, "dt", StringType(), required=False),
)
SPEC = PartitionSpec(PartitionField(source_id=6, field_id=1000, transform=IdentityTransform(), name="dt"))


def _batch(manifest_id: str, day: str, ids: list[int]) -> pa.Table:
    now = dt.datetime.now(dt.UTC)
    return pa.table(
        {
            "event_id": pa.array(ids, pa.int64()),
            "amount": pa.array([float(i) * 1.5 for i in ids], pa.float64()),
            "_source_file": pa.array([f"s3://in/{day}/{manifest_id}.ndjson"] * len(ids)),
            "_manifest_id": pa.array([manifest_id] * len(ids)),
            "_ingested_at": pa.array([now] * len(ids), pa.timestamp("us", tz="UTC")),
            "dt": pa.array([day] * len(ids)),
        }
    )


@pytest.fixture(scope="module")
def aws():
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    with EmbeddedAws() as embedded:
        embedded.reset()
        os.environ.update(embedded.environment())
        os.environ.pop("AWS_SESSION_TOKEN", None)
        try:
            yield embedded
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def table(aws):
    """The table after two commits: m1 (2 rows, 2026-11-01) then m2 (3 rows, 2026-11-02)."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    aws.client("glue").create_database(DatabaseInput={"Name": DATABASE})
    catalog = load_catalog("glue", **iceberg_reads.catalog_properties())
    created = catalog.create_table(
        (DATABASE, TABLE), schema=SCHEMA, partition_spec=SPEC, location=LOCATION, properties={}
    )
    created.append(_batch("m1", "2026-11-01", [1, 2]), snapshot_properties={"manifest-id": "m1"})
    time.sleep(0.05)  # two distinct commit times for --as-of TIMESTAMP
    created.append(_batch("m2", "2026-11-02", [3, 4, 5]), snapshot_properties={"manifest-id": "m2"})
    return catalog.load_table((DATABASE, TABLE))


@pytest.fixture(scope="module")
def mirrored(aws, table, tmp_path_factory) -> Path:
    """A work folder whose lake is the Glue runner's mirror of the table (what `pipeline query` reads)."""
    workdir = tmp_path_factory.mktemp("workdir")
    runner = GlueRunner(
        aws.endpoint_url,
        workdir=workdir,
        lake_dir=workdir / "lake",
        quarantine_dir=workdir / "quarantine",
        spark=lambda: pytest.fail("no Spark here"),  # type: ignore[arg-type, return-value]
    )
    record = GlueRunRecord(run_id="jr_1", job_name="job", arguments={})
    runner._mirror_table_down(  # the step a run of `--TABLE_FORMAT iceberg` ends with
        LOCATION, {"--CATALOG_DATABASE": DATABASE, "--CATALOG_TABLE": TABLE}, record
    )
    assert record.mirror_error is None
    assert any(name.startswith("data/dt=2026-11-01/") for name in record.downloaded)
    return workdir


def _snapshots(table) -> list:
    return sorted(table.snapshots(), key=lambda s: s.timestamp_ms)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def test_catalog_read_current_and_as_of(table):
    through_catalog = iceberg_reads.open_catalog_table(DATABASE, TABLE)
    assert iceberg_reads.read_arrow(through_catalog).num_rows == 5
    first, second = _snapshots(through_catalog)
    assert first.summary["manifest-id"] == "m1" and second.summary["manifest-id"] == "m2"
    by_id = iceberg_reads.read_arrow(through_catalog, str(first.snapshot_id))
    assert sorted(by_id.column("event_id").to_pylist()) == [1, 2]
    between = _iso((first.timestamp_ms + second.timestamp_ms) // 2)
    assert iceberg_reads.read_arrow(through_catalog, between).num_rows == 2
    assert iceberg_reads.read_arrow(through_catalog, _iso(second.timestamp_ms + 1000)).num_rows == 5
    naive = dt.datetime.fromtimestamp(second.timestamp_ms / 1000, dt.UTC).replace(tzinfo=None).isoformat()
    assert iceberg_reads.read_arrow(through_catalog, naive).num_rows == 5  # naive means UTC


def test_as_of_errors_name_the_snapshots(table):
    first, second = _snapshots(table)
    with pytest.raises(PipelineError) as before_first:
        iceberg_reads.resolve_snapshot(table, _iso(first.timestamp_ms - 60_000))
    assert before_first.value.error_name == "SnapshotNotFound"
    assert str(first.snapshot_id) in before_first.value.message
    assert str(second.snapshot_id) in before_first.value.message
    with pytest.raises(PipelineError) as unknown:
        iceberg_reads.resolve_snapshot(table, "12345")
    assert unknown.value.error_name == "SnapshotNotFound" and "snapshot 12345" in unknown.value.message
    with pytest.raises(PipelineError) as garbled:
        iceberg_reads.resolve_snapshot(table, "last tuesday")
    assert garbled.value.error_name == "InvalidAsOf"


def test_missing_catalog_table_is_named(aws):
    with pytest.raises(PipelineError) as missing:
        iceberg_reads.open_catalog_table(DATABASE, "nope")
    assert missing.value.error_name == "IcebergTableNotFound"


def test_offline_read_needs_no_aws(mirrored, table, monkeypatch):
    # Nothing listens there: any call to AWS would fail.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    lake = mirrored / "lake"
    assert (lake / "metadata" / iceberg_reads.VERSION_HINT).read_text() == table.metadata_location.rsplit(
        "/"
    )[-1]
    offline = iceberg_reads.open_offline(lake)
    assert offline.current_snapshot().snapshot_id == table.current_snapshot().snapshot_id
    rows = iceberg_reads.read_arrow(offline)
    assert sorted(rows.column("event_id").to_pylist()) == [1, 2, 3, 4, 5]
    assert rows.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    first, second = _snapshots(offline)
    assert iceberg_reads.read_arrow(offline, str(first.snapshot_id)).num_rows == 2
    assert (
        iceberg_reads.read_arrow(offline, _iso((first.timestamp_ms + second.timestamp_ms) // 2)).num_rows == 2
    )
    listed = iceberg_reads.snapshots(offline)
    assert [(s.manifest_id, s.added_records, s.added_files, s.current) for s in listed] == [
        ("m1", 2, 1, False),
        ("m2", 3, 1, True),
    ]
    assert committed_rows_by_manifest(lake) == {"m1": 2, "m2": 3}


def test_pipeline_query_duckdb_view(mirrored, table, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    lake = mirrored / "lake"
    sql = "SELECT dt, count(*) AS n, sum(amount) AS amount FROM events GROUP BY dt ORDER BY dt"
    now = run_query(sql, lake)
    assert now.columns == ["dt", "n", "amount"]
    assert now.rows == [("2026-11-01", 2, 4.5), ("2026-11-02", 3, 18.0)]
    first = _snapshots(table)[0]
    then = run_query(sql, lake, as_of=str(first.snapshot_id))
    assert then.rows == [("2026-11-01", 2, 4.5)]
    typed = run_query("SELECT typeof(event_id), typeof(_ingested_at) FROM events LIMIT 1", lake, "events")
    assert typed.rows == [("BIGINT", "TIMESTAMP WITH TIME ZONE")]
    listing = snapshot_listing(lake)
    assert listing.columns[:4] == ["snapshot_id", "committed_at", "operation", "manifest_id"]
    assert [(r[2], r[3], r[4]) for r in listing.rows] == [("append", "m1", 2), ("append", "m2", 3)]


def test_pipeline_query_through_the_catalog(table, tmp_path):
    result = run_query(
        "SELECT count(*) FROM events", tmp_path / "no-lake", as_of=None, catalog=(DATABASE, TABLE)
    )
    assert result.rows == [(5,)]


def test_query_command_offline_in_a_fresh_process(mirrored, table):
    env = {
        **os.environ,
        "COLUMNS": "200",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",  # the embedded AWS has "stopped"
        "PYTHONPATH": str(REPO),
    }

    def pipeline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args, "--workdir", str(mirrored)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
            check=False,
        )

    first = _snapshots(table)[0]
    sql = "SELECT dt, count(*) AS n FROM events GROUP BY dt ORDER BY dt"
    current = pipeline("query", sql, "--format", "json")
    assert current.returncode == 0, current.stderr
    assert json.loads(current.stdout) == [{"dt": "2026-11-01", "n": 2}, {"dt": "2026-11-02", "n": 3}]
    before = pipeline("query", sql, "--format", "json", "--as-of", str(first.snapshot_id))
    assert json.loads(before.stdout) == [{"dt": "2026-11-01", "n": 2}]
    too_early = pipeline("query", sql, "--as-of", "2000-01-01T00:00:00Z")
    assert too_early.returncode == 2 and "error[SnapshotNotFound]" in too_early.stderr
    assert str(first.snapshot_id) in too_early.stderr
    listed = pipeline("snapshots", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [s["manifest_id"] for s in json.loads(listed.stdout)] == ["m1", "m2"]


def test_mirror_copies_new_and_changed_objects_only(aws, table, tmp_path):
    s3 = aws.client("s3")
    local = tmp_path / "lake"
    first = iceberg_reads.mirror_table(s3, LOCATION, local, metadata_location=table.metadata_location)
    assert first.downloaded and not first.deleted
    again = iceberg_reads.mirror_table(s3, LOCATION, local, metadata_location=table.metadata_location)
    assert again.downloaded == [] and again.unchanged == len(first.downloaded)
    # A report rewritten in place, and an object removed (say, by orphan cleanup).
    s3.put_object(Bucket=BUCKET, Key="lake/events/_reports/m1.json", Body=b'{"v": 1}')
    s3.put_object(Bucket=BUCKET, Key="lake/events/data/dt=2026-11-01/orphan.parquet", Body=b"x")
    added = iceberg_reads.mirror_table(s3, LOCATION, local)
    assert sorted(added.downloaded) == ["_reports/m1.json", "data/dt=2026-11-01/orphan.parquet"]
    s3.put_object(Bucket=BUCKET, Key="lake/events/_reports/m1.json", Body=b'{"v": 22}')
    s3.delete_object(Bucket=BUCKET, Key="lake/events/data/dt=2026-11-01/orphan.parquet")
    changed = iceberg_reads.mirror_table(s3, LOCATION, local)
    assert changed.downloaded == ["_reports/m1.json"]
    assert changed.deleted == ["data/dt=2026-11-01/orphan.parquet"]
    assert (local / "_reports" / "m1.json").read_bytes() == b'{"v": 22}'
    assert not (local / "data" / "dt=2026-11-01" / "orphan.parquet").exists()
    s3.delete_object(Bucket=BUCKET, Key="lake/events/_reports/m1.json")


def test_offline_reader_ignores_a_metadata_file_no_commit_made(aws, table, tmp_path):
    """A metadata file a lost commit race left behind has a higher version: the catalog's hint wins."""
    s3 = aws.client("s3")
    current = table.metadata_location.rsplit("/", 1)[1]
    stray_key = "lake/events/metadata/99999-00000000-0000-0000-0000-000000000000.metadata.json"
    document = json.loads(
        s3.get_object(Bucket=BUCKET, Key=table.metadata_location.split("/", 3)[3])["Body"].read()
    )
    document["current-snapshot-id"] = _snapshots(table)[0].snapshot_id
    s3.put_object(Bucket=BUCKET, Key=stray_key, Body=json.dumps(document).encode())
    try:
        local = tmp_path / "lake"
        iceberg_reads.mirror_table(s3, LOCATION, local, metadata_location=table.metadata_location)
        assert iceberg_reads.current_metadata_file(local / "metadata").name == current
        assert iceberg_reads.read_arrow(iceberg_reads.open_offline(local)).num_rows == 5
        (local / "metadata" / iceberg_reads.VERSION_HINT).unlink()  # no catalog to ask: the newest file
        assert iceberg_reads.current_metadata_file(local / "metadata").name.startswith("99999-")
    finally:
        s3.delete_object(Bucket=BUCKET, Key=stray_key)


def test_table_below_a_prefix_of_the_lake_is_found(aws, table, tmp_path):
    """A mirror laid out as `<lake>/<table prefix>/metadata/` (s3://bucket/ mapped onto the lake) reads too."""
    s3 = aws.client("s3")
    lake = tmp_path / "lake"
    iceberg_reads.mirror_table(
        s3, LOCATION, lake / "lake" / "events", metadata_location=table.metadata_location
    )
    assert iceberg_reads.metadata_dir(lake) == lake / "lake" / "events" / "metadata"
    assert run_query("SELECT count(*) FROM events", lake).rows == [(5,)]


def test_plain_parquet_lake_keeps_todays_behaviour(tmp_path):
    lake = tmp_path / "lake"
    folder = lake / "dt=2026-11-20"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"amount": [1.5, 2.5], "_manifest_id": ["m", "m"]}), folder / "m.part-0.parquet")
    (lake / "_reports").mkdir()
    (lake / "_reports" / "m.json").write_text("{}", encoding="utf-8")
    result = run_query("SELECT dt, sum(amount) FROM events GROUP BY dt", lake)
    assert [(str(d), s) for d, s in result.rows] == [("2026-11-20", 4.0)]
    with pytest.raises(PipelineError) as as_of:
        run_query("SELECT 1", lake, as_of="1")
    assert as_of.value.error_name == "AsOfNeedsIceberg"
    with pytest.raises(PipelineError) as listing:
        snapshot_listing(lake)
    assert listing.value.error_name == "SnapshotsNeedIceberg"


def test_glue_runner_leaves_an_iceberg_output_in_s3_and_mirrors_the_table(aws, table, tmp_path):
    """`--TABLE_FORMAT iceberg` among the job's DefaultArguments (as Terraform sets it): the job gets the s3://
    OUTPUT_PATH, not the local lake, and after the run (a failed one here: its manifest is missing, which the job
    finds before any Spark work) the table's prefix is mirrored down to the lake, hint included."""
    from pipeline.build.glue_artifacts import build_glue_artifacts
    from pipeline.embedded.bridges import GlueRunFailed, GlueRunRequest

    artifacts = build_glue_artifacts(tmp_path / "glue")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.upload_file(str(artifacts.script), "artifacts", "glue/run_ndjson_to_parquet.py")
    s3.upload_file(str(artifacts.package), "artifacts", "glue/ndjson_to_parquet.zip")
    aws.client("glue").create_job(
        Name="iceberg-job",
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://artifacts/glue/run_ndjson_to_parquet.py"},
        DefaultArguments={
            "--extra-py-files": "s3://artifacts/glue/ndjson_to_parquet.zip",
            "--datalake-formats": "iceberg",
            "--TABLE_FORMAT": "iceberg",
            "--CATALOG_DATABASE": DATABASE,
            "--CATALOG_TABLE": TABLE,
            "--OUTPUT_PATH": LOCATION + "/",
            "--BAD_RECORDS_PATH": f"s3://{BUCKET}/quarantine/",
            "--COMPRESSION_TYPE": "zstd",
        },
    )
    workdir = tmp_path / "w"
    runner = GlueRunner(
        aws.endpoint_url,
        workdir=workdir,
        lake_dir=workdir / "lake",
        quarantine_dir=workdir / "quarantine",
        spark=lambda: None,  # type: ignore[arg-type, return-value]  # the job fails before it needs Spark
    )
    request = GlueRunRequest(
        job_name="iceberg-job",
        run_id="jr_iceberg",
        arguments={"--MANIFEST_PATH": f"s3://{BUCKET}/manifests/missing.json", "--MANIFEST_ID": "m-missing"},
    )
    with pytest.raises(GlueRunFailed, match=r"^Manifest\w*: "):
        runner(request)
    [record] = runner.runs
    assert record.table_format == "iceberg" and record.mirror_error is None
    lake = workdir / "lake"
    assert not any(lake.glob("dt=*")), "an Iceberg run's output is never redirected to the local lake"
    assert (lake / "metadata" / iceberg_reads.VERSION_HINT).is_file()
    assert run_query("SELECT count(*) FROM events", lake).rows == [(5,)]
