"""The deployed state machine executed by moto's ASL interpreter.

Fakes sit at the AWS boundary only: the moto bridges hand Glue runs and Lambda invokes to small recording
functions here (the real Glue job and handlers are exercised by their own tests and the end-to-end test).
Alerts are read from an SQS queue subscribed to the stack's SNS topic.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.embedded import bridges as moto_bridges

pytestmark = pytest.mark.terraform

DATE = "2026-11-22"


@dataclass
class Boundary:
    """Recording Glue runner/admission and Lambda invoker, with switchable failures."""

    s3: Any
    report_bucket: str
    report_prefix: str
    glue_runs: list[moto_bridges.GlueRunRequest] = field(default_factory=list)
    glue_starts: int = 0
    invokes: list[tuple[str, dict]] = field(default_factory=list)
    reject_starts: int = 0
    glue_failure: str | None = None
    write_report: bool = True
    report_schema: list[dict] = field(
        default_factory=list
    )  # the report's schema (a wide table: many columns)
    fail_status: str | None = None  # the status whose update raises a function error
    not_visible: int = 0  # status updates answered with ManifestFilesNotVisible (a lagging index) first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admission(self, request: moto_bridges.GlueRunRequest) -> None:
        with self.lock:
            self.glue_starts += 1
            if self.reject_starts > 0:
                self.reject_starts -= 1
                raise moto_bridges.GlueStartRejected(
                    "ConcurrentRunsExceededException", "Concurrent runs exceeded for the job"
                )

    def run(self, request: moto_bridges.GlueRunRequest) -> None:
        with self.lock:
            self.glue_runs.append(request)
        if self.glue_failure:
            raise moto_bridges.GlueRunFailed(self.glue_failure)
        manifest_id = request.arguments["--MANIFEST_ID"]
        if self.write_report:
            report = {
                "manifest_id": manifest_id,
                "files": 2,
                "records_in": 10,
                "records_out": 9,
                "bad_records": 1,
                "codec": request.arguments["--COMPRESSION_TYPE"],
            }
            if self.report_schema:
                report["schema"] = self.report_schema
            self.s3.put_object(
                Bucket=self.report_bucket,
                Key=f"{self.report_prefix}{manifest_id}.json",
                Body=json.dumps(report).encode(),
            )

    def invoke(self, function_name: str, payload: bytes) -> bytes:
        event = json.loads(payload)
        with self.lock:
            self.invokes.append((function_name, event))
        if self.not_visible > 0:
            self.not_visible -= 1
            raise moto_bridges.LambdaFunctionError(
                "ManifestFilesNotVisible", "1 of 2 files visible in the index"
            )
        if self.fail_status is not None and event.get("status") == self.fail_status:
            raise moto_bridges.LambdaFunctionError("ManifestAlreadyFinal", "the manifest is already final")
        return json.dumps(
            {"manifest_id": event.get("manifest_id"), "status": event.get("status"), "files": 2}
        ).encode()


@pytest.fixture
def boundary(applied_stack) -> Iterator[Boundary]:
    out = applied_stack.outputs
    fake = Boundary(
        s3=applied_stack.client("s3"),
        report_bucket=out["output_bucket"],
        report_prefix="lake/events/_reports/",
    )
    moto_bridges.set_glue_runner(fake.run, admission=fake.admission)
    moto_bridges.set_lambda_invoker(fake.invoke)
    try:
        yield fake
    finally:
        moto_bridges.set_glue_runner(None)
        moto_bridges.set_lambda_invoker(None)


@pytest.fixture(scope="module")
def alert_reader(applied_stack) -> Callable[[], list[dict]]:
    """Reads (and deletes) the messages published to the alert topic so far."""
    sqs, sns = applied_stack.client("sqs"), applied_stack.client("sns")
    url = sqs.create_queue(QueueName="test-alert-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=applied_stack.outputs["alert_topic_arn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "false"},
    )

    def drain() -> list[dict]:
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    return drain


@pytest.fixture
def alerts(alert_reader: Callable[[], list[dict]]) -> Callable[[], list[dict]]:
    """Messages published to the alert topic during this test."""
    alert_reader()
    return alert_reader


def _run(
    applied_stack, *, manifest_status: str | None = "pending", timeout: float = 60.0
) -> tuple[str, dict]:
    """Put the MANIFEST item as the manifest builder would, start the execution, wait for its end."""
    out = applied_stack.outputs
    manifest_id = f"{DATE}-000000-{uuid.uuid4().hex[:12]}"
    file_key = f"MANIFEST#{manifest_id}"
    manifest_path = f"s3://{out['manifest_bucket']}/manifests/{DATE}/{manifest_id}.json"
    if manifest_status is not None:
        applied_stack.client("dynamodb").put_item(
            TableName=out["tracking_table_name"],
            Item={
                "date_prefix": {"S": DATE},
                "file_key": {"S": file_key},
                "status": {"S": manifest_status},
                "manifest_id": {"S": manifest_id},
                "manifest_path": {"S": manifest_path},
                "file_count": {"N": "2"},
            },
        )
    sfn = applied_stack.client("stepfunctions")
    execution_input = {
        "manifest_id": manifest_id,
        "manifest_path": manifest_path,
        "date_prefix": DATE,
        "file_count": 2,
        "file_key": file_key,
    }
    arn = sfn.start_execution(
        stateMachineArn=out["state_machine_arn"], name=manifest_id, input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return manifest_id, described
        assert time.monotonic() < deadline, f"execution {manifest_id} still running after {timeout} s"
        time.sleep(0.2)


def _manifest_item(applied_stack, manifest_id: str) -> dict:
    item = (
        applied_stack.client("dynamodb")
        .get_item(
            TableName=applied_stack.outputs["tracking_table_name"],
            Key={"date_prefix": {"S": DATE}, "file_key": {"S": f"MANIFEST#{manifest_id}"}},
        )
        .get("Item", {})
    )
    return {key: next(iter(value.values())) for key, value in item.items()}


def test_success_marks_processing_runs_glue_with_explicit_arguments_and_completes(
    applied_stack, boundary, alerts
) -> None:
    out = applied_stack.outputs
    manifest_id, execution = _run(applied_stack)
    assert execution["status"] == "SUCCEEDED", execution

    item = _manifest_item(applied_stack, manifest_id)
    assert item["status"] == "processing"  # the fake status updater does not write; the ASL's own step did
    assert item["execution_arn"] == execution["executionArn"]
    assert item["processing_started_at"]

    assert len(boundary.glue_runs) == 1
    arguments = boundary.glue_runs[0].arguments
    assert arguments["--MANIFEST_ID"] == manifest_id
    assert (
        arguments["--MANIFEST_PATH"] == f"s3://{out['manifest_bucket']}/manifests/{DATE}/{manifest_id}.json"
    )
    assert arguments["--OUTPUT_PATH"] == out["output_path"]
    assert arguments["--BAD_RECORDS_PATH"] == out["bad_records_path"]
    assert arguments["--COMPRESSION_TYPE"] == out["compression_type"]

    assert boundary.invokes == [
        (
            out["status_updater_function_name"],
            {
                "action": "complete",
                "manifest_id": manifest_id,
                "date_prefix": DATE,
                "status": "completed",
                "report_path": f"s3://{out['output_bucket']}/lake/events/_reports/{manifest_id}.json",
            },
        )
    ]
    assert alerts() == []


STATE_LIMIT = 256 * 1024  # Step Functions' limit on a state's input, output and a task's result (UTF-8 bytes)


def test_a_report_larger_than_the_state_limit_completes_and_no_state_carries_it(
    applied_stack, boundary, alerts
) -> None:
    """A wide table's report passes 256 KiB; on AWS a state carrying it ends the execution with
    States.DataLimitExceeded, which no Catch handles (manifest stuck in processing, no alert). Only the report's
    location travels through the state machine: every state's data stays far below the limit."""
    boundary.report_schema = [
        {"name": f"attributes_{i:05d}_with_a_long_name", "type": "string"} for i in range(6000)
    ]
    manifest_id, execution = _run(applied_stack)
    report = applied_stack.client("s3").get_object(
        Bucket=applied_stack.outputs["output_bucket"], Key=f"lake/events/_reports/{manifest_id}.json"
    )
    assert report["ContentLength"] > STATE_LIMIT
    assert execution["status"] == "SUCCEEDED", execution
    history = applied_stack.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    sizes = {
        f"{event['type']}#{event['id']}": len(str(details.get(name, "")).encode())
        for event in history
        for details in event.values()
        if isinstance(details, dict)
        for name in ("input", "output")
    }
    assert sizes and max(sizes.values()) < 8 * 1024, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    [(_, event)] = boundary.invokes
    assert event["report_path"].endswith(f"/_reports/{manifest_id}.json") and "report" not in event
    assert alerts() == []


def test_glue_failure_records_failed_alerts_and_fails_with_a_stable_error(
    applied_stack, boundary, alerts
) -> None:
    boundary.glue_failure = "JobError: manifest unreadable"
    manifest_id, execution = _run(applied_stack)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.BatchFailed"

    [(_, event)] = boundary.invokes
    assert event["action"] == "complete"
    assert event["status"] == "failed"
    assert event["manifest_id"] == manifest_id and event["date_prefix"] == DATE
    assert event["error"] == "States.TaskFailed"
    assert "manifest unreadable" in event["cause"]
    assert "report" not in event

    [alert] = alerts()
    assert alert["Subject"] == "NDJSON-to-Parquet batch failed"
    assert (
        manifest_id in alert["Message"]
        and DATE in alert["Message"]
        and "States.TaskFailed" in alert["Message"]
    )
    assert alert["MessageAttributes"]["manifest_id"]["Value"] == manifest_id


def test_glue_concurrency_limit_is_retried_until_the_run_starts(applied_stack, boundary, alerts) -> None:
    boundary.reject_starts = 2
    _, execution = _run(applied_stack)
    assert execution["status"] == "SUCCEEDED", execution
    assert boundary.glue_starts == 3
    assert len(boundary.glue_runs) == 1
    assert [event["status"] for _, event in boundary.invokes] == ["completed"]
    history = applied_stack.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    errors = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert errors == ["Glue.ConcurrentRunsExceededException"] * 2
    assert alerts() == []


def test_glue_concurrency_limit_that_persists_ends_as_a_failed_batch(applied_stack, boundary, alerts) -> None:
    boundary.reject_starts = 10  # more than the 1 + 3 attempts the stack allows in the tests
    manifest_id, execution = _run(applied_stack)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.BatchFailed"
    assert boundary.glue_starts == 4
    assert boundary.glue_runs == []
    [(_, event)] = boundary.invokes
    assert event["status"] == "failed" and event["error"] == "Glue.ConcurrentRunsExceededException"
    [alert] = alerts()
    assert manifest_id in alert["Message"]


def test_status_update_failure_alerts_and_fails_with_its_own_error(applied_stack, boundary, alerts) -> None:
    boundary.fail_status = "completed"
    manifest_id, execution = _run(applied_stack)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.StatusUpdateFailed"
    assert len(boundary.glue_runs) == 1
    assert [event["status"] for _, event in boundary.invokes] == [
        "completed"
    ]  # not retried, not turned to failed
    [alert] = alerts()
    assert alert["Subject"] == "NDJSON-to-Parquet status update failed"
    assert manifest_id in alert["Message"] and "ManifestAlreadyFinal" in alert["Message"]


def test_status_update_waiting_for_the_index_is_retried(applied_stack, boundary, alerts) -> None:
    boundary.not_visible = 2
    _, execution = _run(applied_stack)
    assert execution["status"] == "SUCCEEDED", execution
    assert [event["status"] for _, event in boundary.invokes] == ["completed"] * 3
    assert alerts() == []


def test_failed_status_update_still_alerts_and_fails(applied_stack, boundary, alerts) -> None:
    boundary.glue_failure = "boom"
    boundary.fail_status = "failed"
    manifest_id, execution = _run(applied_stack)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.BatchFailed"
    [alert] = alerts()
    assert manifest_id in alert["Message"]


def test_missing_job_report_is_a_failed_batch(applied_stack, boundary, alerts) -> None:
    boundary.write_report = False
    _, execution = _run(applied_stack)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.BatchFailed"
    [(_, event)] = boundary.invokes
    assert event["status"] == "failed"
    assert event["error"].lower().startswith("s3.")  # moto names it s3.NoSuchKeyException
    assert len(alerts()) == 1


@pytest.mark.parametrize("final_status", ["completed", "failed"])
def test_a_finished_manifest_is_never_converted_again(
    applied_stack, boundary, alerts, final_status: str
) -> None:
    manifest_id, execution = _run(applied_stack, manifest_status=final_status)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Pipeline.ManifestNotRunnable"
    assert boundary.glue_starts == 0 and boundary.invokes == []
    assert _manifest_item(applied_stack, manifest_id)["status"] == final_status
    assert alerts() == []


def test_execution_started_before_the_manifest_item_is_written_still_runs(applied_stack, boundary) -> None:
    # The manifest builder writes the MANIFEST item after StartExecution: the state machine may get there first.
    manifest_id, execution = _run(applied_stack, manifest_status=None)
    assert execution["status"] == "SUCCEEDED", execution
    item = _manifest_item(applied_stack, manifest_id)
    assert item["status"] == "processing"
    assert item["manifest_id"] == manifest_id
    assert item["file_count"] == "2"
