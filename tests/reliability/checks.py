"""The invariant checker pointed at the tests/ops harness stack, plus the documented recovery steps."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import timedelta
from typing import Any

from ops.harness import (
    BAD_PATH,
    INPUT,
    INPUT_PREFIX,
    MANIFEST_PREFIX,
    MANIFESTS,
    OUTPUT_PATH,
    TABLE,
    MiniStack,
)

from pipeline.checks import invariants
from pipeline.control_plane.bootstrap import App, build_app, handle_event
from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.domain.times import utc_now
from pipeline.embedded.lambda_runner import LambdaContext

STAGED = re.compile(r".*/staging/[^/]+/input/\d{6}/(?P<bucket>[^/]+)/(?P<key>.+)$")


def take_all_messages(stack: MiniStack, count: int) -> list[dict[str, Any]]:
    """Receive and delete the queue's messages until `count` S3 notifications are in hand (at most 30 s). S3 also
    sends one s3:TestEvent when the notification is configured: kept (the handler must ignore it)."""
    sqs = stack.aws.client("sqs")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while sum("Records" in json.loads(m["Body"]) for m in messages) < count and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300)
        for message in got.get("Messages", []):
            messages.append(message)
            sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def staged_to_s3(value: str) -> str:
    """The harness runs the Glue job in the staged mode: `_source_file` names the run's local copy
    (`<workdir>/staging/<run>/input/<n>/<bucket>/<key>`), not the s3:// URL (see the report of issue 7)."""
    match = STAGED.match(value)
    return f"s3://{match['bucket']}/{match['key']}" if match else value


def locations() -> invariants.Locations:
    return invariants.Locations(
        input_bucket=INPUT,
        input_prefix=INPUT_PREFIX,
        table=TABLE,
        manifest_bucket=MANIFESTS,
        manifest_prefix=MANIFEST_PREFIX,
        output_path=OUTPUT_PATH,
        bad_records_path=BAD_PATH,
        source_url=staged_to_s3,
    )


def check(stack: MiniStack, *dates: str) -> invariants.InvariantReport:
    c = stack.aws.client
    prefixes = [f"raw/{date}/" for date in dates]
    return invariants.check(c("s3"), c("dynamodb"), locations(), list(dates), input_prefixes=prefixes)


def assert_holds(stack: MiniStack, *dates: str, settled: bool = True) -> invariants.InvariantReport:
    report = check(stack, *dates)
    assert report.ok, report.summary()
    if settled:
        assert report.settled, report.summary()
    return report


def later_app(stack: MiniStack, seconds: int = 1000) -> App:
    """The manifest builder as it runs `seconds` from now (past REPAIR_GRACE_SECONDS): the handler's own code
    (build_app with the function's environment), only its clock is later."""
    config = ControlPlaneConfig.from_env(os.environ)
    with stack.as_function():  # its clients sign as the function's role, as the deployed handler's do
        return build_app(
            config, clock=lambda: utc_now() + timedelta(seconds=seconds), endpoint_url=stack.aws.endpoint_url
        )


def flush_later(stack: MiniStack, seconds: int = 1000) -> dict[str, Any]:
    """The scheduled flush as it runs `seconds` from now (past REPAIR_GRACE_SECONDS), through handle_event."""
    context = LambdaContext(
        function_name="flush-later",
        function_version="$LATEST",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:flush-later",
        memory_limit_in_mb=512,
        timeout_seconds=60,
    )
    return handle_event(later_app(stack, seconds), {"action": "flush"}, context)
