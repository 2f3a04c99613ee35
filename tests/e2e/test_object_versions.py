"""Exactly once from object version to row (issue 13, item 3), on a moto server: the real manifest builder (its
handler, the DynamoDB adapter), the real Glue job on local Spark reading s3:// through the embedded S3, `pipeline
retry` and the invariant checker. The scenario: a producer overwrites a key after its manifest was claimed.

moto's S3 notifications carry no `versionId` (real S3's do), so the events are built from the PUT responses,
exactly as S3 would send them; everything downstream of the event is the pipeline's own code.
"""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest

from glue_jobs.ndjson_to_parquet import parse_job_args, run_job
from glue_jobs.ndjson_to_parquet.storage import Storage
from pipeline.checks.invariants import Locations, check
from pipeline.control_plane.bootstrap import handle_event
from pipeline.embedded.server import free_port
from pipeline.ops.aws import AwsSession
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import ManifestNotRetryable
from pipeline.ops.retry import retry_manifest
from pipeline.ops.stack_names import StackNames
from tests.control_plane.conftest import (
    INPUT_BUCKET,
    MANIFEST_BUCKET,
    REGION,
    TABLE,
    Clock,
    LambdaContext,
    make_config,
    provision,
    sqs_event,
)

pytestmark = pytest.mark.spark

DAY = "2026-11-20"
LAKE = "lake"
OUTPUT = f"s3://{LAKE}/out/"
BAD = f"s3://{LAKE}/out/_bad_records/"


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def world(endpoint, monkeypatch):
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    requests = boto3.session.Session(region_name=REGION)
    machine = provision(requests, endpoint)
    s3 = requests.client("s3")
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=LAKE)
    return World(requests, machine)


class World:
    def __init__(self, session: boto3.session.Session, machine: str) -> None:
        self.session = session
        self.s3 = session.client("s3")
        self.ddb = session.client("dynamodb")
        self.app = _app(session, machine)
        self.machine = machine

    def put(self, key: str, body: bytes, bucket: str = INPUT_BUCKET) -> list[str]:
        """PUT an object, deliver its ObjectCreated event to the builder; the manifests it started."""
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        obj: dict[str, Any] = {
            "key": quote_plus(key, safe="/"),
            "size": len(body),
            "eTag": response["ETag"].strip('"'),
            "sequencer": "0055AED6DCD90281E5",
        }
        if response.get("VersionId"):
            obj["versionId"] = response["VersionId"]
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": f"{DAY}T04:59:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": obj},
        }
        before = set(self.manifest_ids())
        assert handle_event(self.app, sqs_event(record), LambdaContext()) == {"batchItemFailures": []}
        return sorted(set(self.manifest_ids()) - before)

    def manifest_ids(self) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=MANIFEST_BUCKET).get("Contents", [])
        return [o["Key"].rsplit("/", 1)[-1][: -len(".json")] for o in listing]

    def manifest(self, manifest_id: str) -> dict[str, Any]:
        key = f"manifests/{DAY}/{manifest_id}.json"
        return json.loads(self.s3.get_object(Bucket=MANIFEST_BUCKET, Key=key)["Body"].read())

    def convert(self, spark: Any, manifest_id: str) -> dict[str, Any]:
        argv = [
            "--JOB_NAME",
            "versions",
            "--MANIFEST_PATH",
            f"s3://{MANIFEST_BUCKET}/manifests/{DAY}/{manifest_id}.json",
            "--MANIFEST_ID",
            manifest_id,
            "--OUTPUT_PATH",
            OUTPUT,
            "--BAD_RECORDS_PATH",
            BAD,
            "--COMPRESSION_TYPE",
            "zstd",
        ]
        return run_job(spark, parse_job_args(argv))

    def complete(self, manifest_id: str, status: str, report: dict[str, Any] | None = None) -> None:
        event = {"action": "complete", "manifest_id": manifest_id, "date_prefix": DAY, "status": status}
        if report is not None:
            event["report"] = report
        handle_event(self.app, event, LambdaContext())

    def rows(self, manifest_id: str) -> list[str]:
        found = self.s3.list_objects_v2(Bucket=LAKE, Prefix=f"out/dt={DAY}/").get("Contents", [])
        ids: list[str] = []
        for o in found:
            if o["Key"].endswith(".parquet") and manifest_id in o["Key"]:
                body = self.s3.get_object(Bucket=LAKE, Key=o["Key"])["Body"].read()
                ids += pq.read_table(io.BytesIO(body), columns=["event_id"])["event_id"].to_pylist()
        return sorted(ids)

    def files(self) -> list[dict[str, Any]]:
        """The file items as every reader sees them (status derived through the one owner)."""
        from pipeline.ops.table_reads import read_date

        return read_date(self.ddb, TABLE, DAY).files

    def ops(self) -> OpsContext:
        aws = AwsSession.create(region=REGION)
        names = StackNames(
            region=REGION,
            tracking_table=TABLE,
            state_machine_arn=self.machine,
            input_bucket=INPUT_BUCKET,
            manifest_bucket=MANIFEST_BUCKET,
            output_path=OUTPUT,
            bad_records_path=BAD,
            pending_shards=2,
        )
        return OpsContext(aws=aws, stack=names)

    def invariants(self):
        locations = Locations(
            input_bucket=INPUT_BUCKET,
            input_prefix="raw/",
            table=TABLE,
            manifest_bucket=MANIFEST_BUCKET,
            manifest_prefix="manifests/",
            output_path=OUTPUT,
            bad_records_path=BAD,
        )
        return check(self.s3, self.ddb, locations, [DAY])


def _app(session: boto3.session.Session, machine: str) -> Any:
    from aws_lambda_powertools import Logger

    from pipeline.control_plane.bootstrap import build_app

    config = make_config(machine, max_files_per_manifest=1, max_batch_wait_seconds=0)
    return build_app(
        config, session=session, logger=Logger(service="versions", level="WARNING"), clock=Clock()
    )


def lines(prefix: str, count: int, bad: int = 0, conflicts: int = 0) -> bytes:
    """`count` good records, `bad` lines that are not JSON (quarantined by stage 1) and `conflicts` records whose
    `amount` is a struct among integers (quarantined by stage 2, which re-reads their raw lines from the input)."""
    rows = [json.dumps({"event_id": f"{prefix}-{i}", "amount": i}) for i in range(count)]
    rows += [json.dumps({"event_id": f"{prefix}-c{i}", "amount": {"x": i}}) for i in range(conflicts)]
    return ("\n".join(rows + ["{not json"] * bad) + "\n").encode()


def quarantined(world: World, manifest_id: str) -> list[str]:
    prefix = f"out/_bad_records/dt={DAY}/manifest_id={manifest_id}/"
    raw: list[str] = []
    for o in world.s3.list_objects_v2(Bucket=LAKE, Prefix=prefix).get("Contents", []):
        body = world.s3.get_object(Bucket=LAKE, Key=o["Key"])["Body"].read()
        raw += [json.loads(line)["raw_line"] for line in body.splitlines() if line.strip()]
    return sorted(raw)


def test_an_overwrite_after_the_claim_is_converted_once_as_its_own_version(world, spark):
    key = f"raw/{DAY}/a.ndjson"
    [first] = world.put(key, lines("v1", 60, bad=1, conflicts=1))
    [second] = world.put(key, lines("v2", 7))  # the producer overwrites the key after the claim
    v1, v2 = (world.manifest(m)["entries"] for m in (first, second))
    assert [e["url"] for e in v1 + v2] == [f"s3://{INPUT_BUCKET}/{key}"] * 2
    assert v1[0]["version_id"] != v2[0]["version_id"]

    # The first manifest, run after the overwrite, converts the content it claimed: version 1.
    report = world.convert(spark, first)
    assert (report["records_in"], report["records_out"], report["bad_records"]) == (62, 60, 2)
    assert world.rows(first) == sorted(f"v1-{i}" for i in range(60))
    # the stage-2 quarantine re-read its raw line from version 1 too (the key now holds version 2's bytes)
    assert quarantined(world, first) == ['{"event_id": "v1-c0", "amount": {"x": 0}}', "{not json"]
    world.complete(first, "failed")  # say its status update reported a failure: `pipeline retry` takes it

    # Retry does not refuse a manifest whose key was overwritten: its entries name versions.
    outcome = retry_manifest(world.ops(), first)
    assert outcome.attempt == 2 and outcome.files == 1
    report = world.convert(spark, first)  # the retried run: still version 1, its output replaced, not doubled
    assert world.rows(first) == sorted(f"v1-{i}" for i in range(60))
    world.complete(first, "completed", report)

    report = world.convert(spark, second)
    assert world.rows(second) == sorted(f"v2-{i}" for i in range(7))
    world.complete(second, "completed", report)

    items = sorted((f["version_id"], f["manifest_id"], f["status"]) for f in world.files())
    assert items == sorted(
        [(v1[0]["version_id"], first, "completed"), (v2[0]["version_id"], second, "completed")]
    )
    result = world.invariants()
    assert result.ok, result.summary()
    assert result.settled, result.summary()
    assert result.lines_checked == 62 + 7


def test_a_missing_version_is_a_missing_entry_and_retry_refuses_it(world, spark):
    key = f"raw/{DAY}/b.ndjson"
    [manifest_id] = world.put(key, lines("b", 3))
    version = world.manifest(manifest_id)["entries"][0]["version_id"]
    world.s3.delete_object(Bucket=INPUT_BUCKET, Key=key, VersionId=version)  # the claimed version is gone
    from glue_jobs.ndjson_to_parquet.errors import JobError

    with pytest.raises(JobError) as failure:
        world.convert(spark, manifest_id)
    assert failure.value.error_name == "ManifestEntryMissing"
    world.complete(manifest_id, "failed")
    with pytest.raises(ManifestNotRetryable, match="version"):
        retry_manifest(world.ops(), manifest_id)


def test_versioned_ranged_reads_match_the_bytes(world):
    body = b"".join(f'{{"n": {i}}}\n'.encode() for i in range(50_000))
    first = world.s3.put_object(Bucket=INPUT_BUCKET, Key="raw/x.ndjson", Body=body)["VersionId"]
    world.s3.put_object(Bucket=INPUT_BUCKET, Key="raw/x.ndjson", Body=b"overwritten\n")
    location = f"s3://{INPUT_BUCKET}/raw/x.ndjson"
    storage = Storage.from_env().pinned(location, first)
    assert storage.read_bytes(location) == body
    assert storage.version_size(location, first) == len(body)
    assert Storage.from_env().read_bytes(location) == b"overwritten\n"  # no version: the current content
    stream = storage.open_text(location, compressed=False)
    try:
        stream.seek(123_457)
        assert stream.read(1000) == body[123_457:124_457]
    finally:
        stream.close()
    assert not storage.has_gzip_magic(location)


def test_versioned_gzip_reads_the_claimed_version(world):
    import gzip

    body = b"".join(f'{{"n": {i}}}\n'.encode() for i in range(20_000))
    first = world.s3.put_object(Bucket=INPUT_BUCKET, Key="raw/y.ndjson.gz", Body=gzip.compress(body))
    world.s3.put_object(Bucket=INPUT_BUCKET, Key="raw/y.ndjson.gz", Body=gzip.compress(b"other\n"))
    location = f"s3://{INPUT_BUCKET}/raw/y.ndjson.gz"
    storage = Storage.from_env().pinned(location, first["VersionId"])
    assert storage.has_gzip_magic(location)
    stream = storage.open_text(location, compressed=True)
    try:
        assert stream.read() == body
    finally:
        stream.close()
