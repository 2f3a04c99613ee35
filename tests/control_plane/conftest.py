"""Fixtures for the control plane: moto in-process as AWS, a controllable clock, event builders and
botocore-level fault injection (no mocks of our own code)."""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from moto import mock_aws

from pipeline.control_plane.adapters.tracking_schema import create_tracking_table
from pipeline.control_plane.bootstrap import App, build_app
from pipeline.control_plane.config import ControlPlaneConfig

REGION = "us-east-1"
TABLE = "tracking"
INPUT_BUCKET = "input-bucket"
MANIFEST_BUCKET = "manifest-bucket"
MACHINE = "ndjson-to-parquet"
REPO = Path(__file__).resolve().parents[2]

_etags = itertools.count(1)


class Clock:
    """UTC clock the tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as context (a runtime object, not our code)."""

    function_name: str = "manifest-builder"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:manifest-builder"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def provision(session: boto3.session.Session, endpoint_url: str | None = None) -> str:
    """Table, buckets and a (never executed) state machine; returns the state machine ARN."""
    kw: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint_url}
    create_tracking_table(session.client("dynamodb", **kw), TABLE)
    s3 = session.client("s3", **kw)
    s3.create_bucket(Bucket=INPUT_BUCKET)
    s3.create_bucket(Bucket=MANIFEST_BUCKET)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    response = session.client("stepfunctions", **kw).create_state_machine(
        name=MACHINE,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )
    return str(response["stateMachineArn"])


def make_config(state_machine_arn: str, **overrides: Any) -> ControlPlaneConfig:
    values: dict[str, Any] = {
        "tracking_table": TABLE,
        "manifest_bucket": MANIFEST_BUCKET,
        "state_machine_arn": state_machine_arn,
        "max_files_per_manifest": 5,
        "max_bytes_per_manifest": 10_000,
        "max_batch_wait_seconds": 300,
        "pending_shards": 2,
    }
    values.update(overrides)
    return ControlPlaneConfig(**values)


class Env:
    """One moto world plus helpers to look at it."""

    def __init__(self, session: boto3.session.Session, machine_arn: str, clock: Clock) -> None:
        self.session = session
        self.machine_arn = machine_arn
        self.clock = clock
        self.ddb = session.client("dynamodb", region_name=REGION)
        self.s3 = session.client("s3", region_name=REGION)
        self.sfn = session.client("stepfunctions", region_name=REGION)
        self.log_stream = io.StringIO()

    def app(self, **overrides: Any) -> App:
        config = make_config(self.machine_arn, **overrides)
        # a fresh service name per app: powertools configures one stream per logger name
        logger = Logger(
            service=f"manifest-builder-{uuid.uuid4().hex[:8]}", level="DEBUG", stream=self.log_stream
        )
        return build_app(config, session=self.session, logger=logger, clock=self.clock)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines() if line.strip()]

    def items(self, date_prefix: str) -> list[dict[str, Any]]:
        """Every item of one date (test inspection only)."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "KeyConditionExpression": "date_prefix = :d",
            "ExpressionAttributeValues": {":d": {"S": date_prefix}},
        }
        while True:
            page = self.ddb.query(**kwargs)
            out += [{k: next(iter(v.values())) for k, v in item.items()} for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def files(self, date_prefix: str) -> list[dict[str, Any]]:
        return [i for i in self.items(date_prefix) if i["file_key"].startswith("F#")]

    def files_as_read(self, date_prefix: str) -> list[dict[str, Any]]:
        """The date's file items as every reader sees them: ``status`` derived through the one owner (a file of a
        final manifest has its manifest's status), ``stored_status`` the item's own (pipeline/ops/table_reads)."""
        from pipeline.ops.table_reads import read_date

        return read_date(self.ddb, TABLE, date_prefix).files

    def manifest_items(self, date_prefix: str) -> list[dict[str, Any]]:
        return [i for i in self.items(date_prefix) if i["file_key"].startswith("MANIFEST#")]

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.machine_arn)["executions"]

    def manifest_objects(self) -> list[dict[str, Any]]:
        listing = self.s3.list_objects_v2(Bucket=MANIFEST_BUCKET).get("Contents", [])
        return [
            json.loads(self.s3.get_object(Bucket=MANIFEST_BUCKET, Key=o["Key"])["Body"].read())
            for o in listing
        ]


@pytest.fixture
def env() -> Env:
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        arn = provision(session)
        yield Env(session, arn, Clock())


def s3_record(
    key: str,
    size: int = 100,
    etag: str | None = None,
    bucket: str = INPUT_BUCKET,
    event_name: str = "ObjectCreated:Put",
    event_time: str = "2026-11-22T04:59:00.000Z",
) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": event_time,
        "eventName": event_name,
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 form-encodes keys in notifications (moto even encodes "/")
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag or f"etag{next(_etags):08d}",
                "sequencer": "0055AED6DCD90281E5",
            },
        },
    }


def sqs_message(body: Any, message_id: str | None = None) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:ingest",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """One SQS message per S3 record, as S3 -> SQS delivers them."""
    return {"Records": [sqs_message({"Records": [r]}) for r in records]}


class Injection:
    """A botocore-level fault: ``operation`` fails with AWS error ``code``."""

    def __init__(self, client: Any, operation: str, code: str, times: int | None, when: Any) -> None:
        self.client = client
        self.event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        self.operation = operation
        self.code = code
        self.times = times
        self.when = when
        self.count = 0
        client.meta.events.register(self.event, self._fail)

    def _fail(self, params: dict[str, Any], **_: Any) -> None:
        if self.times is not None and self.count >= self.times:
            return
        if self.when is not None and not self.when(params):
            return
        self.count += 1
        raise ClientError(
            {
                "Error": {"Code": self.code, "Message": f"injected {self.code}"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            self.operation,
        )

    def stop(self) -> None:
        self.client.meta.events.unregister(self.event, self._fail)


def inject_error(
    client: Any, operation: str, code: str, times: int | None = None, when: Any = None
) -> Injection:
    """Make ``operation`` (e.g. "StartExecution") fail with ``code``, ``times`` times (None: until stopped)."""
    return Injection(client, operation, code, times, when)


def load_handler_module(name: str) -> Any:
    """Load lambda/<name>.py by path (``lambda`` is a keyword), as the packaged zip's root would."""
    path = REPO / "lambda" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"lambda_{name}_{uuid.uuid4().hex}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
