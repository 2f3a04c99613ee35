"""The embedded S3's event notifications carry `versionId` for versioned buckets (bridge s3-event-version-id)."""

from __future__ import annotations

import json

import boto3
import pytest

from pipeline.embedded import bridges
from pipeline.embedded.server import free_port


@pytest.fixture(scope="module")
def endpoint():
    from moto.server import ThreadedMotoServer

    bridges.install()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _events(endpoint: str, versioned: bool) -> list[dict]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"in-{'v' if versioned else 'u'}"
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName=f"q-{bucket}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    puts = [s3.put_object(Bucket=bucket, Key="a.ndjson", Body=body) for body in (b'{"v":1}\n', b'{"v":2}\n')]
    records = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            records.extend(json.loads(message["Body"]).get("Records", []))
        if len(records) >= 2:
            break
    return [
        {"put": put.get("VersionId"), "event": r["s3"]["object"].get("versionId")}
        for put, r in zip(puts, records, strict=True)
    ]


def test_versioned_bucket_events_name_the_version(endpoint):
    pairs = _events(endpoint, versioned=True)
    assert len(pairs) == 2 and all(p["put"] and p["event"] == p["put"] for p in pairs)
    assert pairs[0]["event"] != pairs[1]["event"]


def test_unversioned_bucket_events_have_no_version(endpoint):
    pairs = _events(endpoint, versioned=False)
    assert len(pairs) == 2 and all(p["event"] is None for p in pairs)
