"""Several Lambda instances (threads, each with its own clients) on overlapping, duplicated events against a moto
server: every file ends in exactly one started manifest."""

from __future__ import annotations

import json
import random
import threading
import uuid

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto.server import ThreadedMotoServer

from pipeline.control_plane.bootstrap import build_app, handle_event
from pipeline.embedded.server import free_port

from .conftest import (
    INPUT_BUCKET,
    MANIFEST_BUCKET,
    REGION,
    TABLE,
    Clock,
    LambdaContext,
    make_config,
    provision,
    s3_record,
    sqs_message,
)

DAYS = ("2026-11-19", "2026-11-20")
FILES_PER_DAY = 60
WORKERS = 4


@pytest.fixture
def moto_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_concurrent_invocations_put_every_file_in_exactly_one_manifest(moto_server):
    session = boto3.session.Session(region_name=REGION)
    machine_arn = provision(session, endpoint_url=moto_server)
    config = make_config(
        machine_arn, max_files_per_manifest=7, max_bytes_per_manifest=10**9, pending_shards=4
    )
    clock = Clock()
    keys = [f"raw/{day}/part {i:03d}+x.ndjson" for day in DAYS for i in range(FILES_PER_DAY)]
    records = {key: s3_record(key, size=100 + i, etag=f"e{i}") for i, key in enumerate(keys)}

    # every file is delivered twice (S3 duplicate or SQS redelivery) to different instances, in random order
    deliveries = [key for key in keys for _ in range(2)]
    random.Random(7).shuffle(deliveries)
    batches = [deliveries[i : i + 10] for i in range(0, len(deliveries), 10)]
    errors: list[BaseException] = []
    failures: list[dict] = []

    def worker(my_batches):
        app = build_app(
            config,
            session=boto3.session.Session(region_name=REGION),
            logger=Logger(service=f"mb-{uuid.uuid4().hex[:6]}", level="WARNING"),
            clock=clock,
            endpoint_url=moto_server,
        )
        try:
            for batch in my_batches:
                event = {"Records": [sqs_message({"Records": [records[k]]}) for k in batch]}
                failures.extend(handle_event(app, event, LambdaContext())["batchItemFailures"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(batches[n::WORKERS],)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors and not failures

    # the scheduled flush takes what is left (partial batches, claims released under contention)
    clock.advance(config.max_batch_wait_seconds + 1)
    flusher = build_app(
        config,
        session=session,
        clock=clock,
        endpoint_url=moto_server,
        logger=Logger(service="mb-flush", level="WARNING"),
    )
    for _ in range(5):
        if not handle_event(flusher, {"action": "flush"}, LambdaContext())["started"]:
            break

    ddb = session.client("dynamodb", endpoint_url=moto_server)
    s3 = session.client("s3", endpoint_url=moto_server)
    sfn = session.client("stepfunctions", endpoint_url=moto_server)
    executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    started = {e["name"] for e in executions}
    assert started

    seen: dict[str, str] = {}
    objects = s3.list_objects_v2(Bucket=MANIFEST_BUCKET).get("Contents", [])
    assert len(objects) == len(started)  # no stray manifest objects
    for obj in objects:
        manifest = json.loads(s3.get_object(Bucket=MANIFEST_BUCKET, Key=obj["Key"])["Body"].read())
        assert manifest["manifest_id"] in started
        assert len(manifest["entries"]) <= 7
        for entry in manifest["entries"]:
            assert entry["url"] not in seen, f"{entry['url']} in two manifests"
            seen[entry["url"]] = manifest["manifest_id"]
    assert sorted(seen) == sorted(f"s3://{INPUT_BUCKET}/{k}" for k in keys)

    for day in DAYS:
        items = ddb.query(
            TableName=TABLE,
            KeyConditionExpression="date_prefix = :d",
            ExpressionAttributeValues={":d": {"S": day}},
        )["Items"]
        files = [i for i in items if i["file_key"]["S"].startswith("F#")]
        assert len(files) == FILES_PER_DAY  # duplicates tracked once
        assert all(f["status"]["S"] == "manifested" for f in files)
        for f in files:
            assert seen[f"s3://{INPUT_BUCKET}/{f['key']['S']}"] == f["manifest_id"]["S"]
        manifests = [i for i in items if i["file_key"]["S"].startswith("MANIFEST#")]
        assert {m["manifest_id"]["S"] for m in manifests} <= started
        assert not [i for i in items if i["file_key"]["S"].startswith("CLAIM#")]
        counter = next(i for i in items if i["file_key"]["S"] == "META#PENDING")
        assert counter["pending_count"]["N"] == "0"
    assert sum(
        1
        for day in DAYS
        for i in ddb.query(
            TableName=TABLE,
            KeyConditionExpression="date_prefix = :d AND begins_with(file_key, :m)",
            ExpressionAttributeValues={":d": {"S": day}, ":m": {"S": "MANIFEST#"}},
        )["Items"]
    ) == len(started)
