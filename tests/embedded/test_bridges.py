"""The moto bridges, exercised through the embedded AWS exactly as Terraform and the state machine use it."""

from __future__ import annotations

import json
import threading
import time

import pytest

from pipeline.embedded import bridges
from pipeline.embedded.server import EmbeddedAws, EmbeddedAwsAlreadyRunning

ROLE = "arn:aws:iam::123456789012:role/test"

GLUE_SYNC = {
    "StartAt": "Run",
    "States": {
        "Run": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "job", "Arguments": {"--MANIFEST_ID.$": "$.manifest_id"}},
            "Retry": [
                {
                    "ErrorEquals": ["Glue.ConcurrentRunsExceededException"],
                    "IntervalSeconds": 1,
                    "MaxAttempts": 3,
                    "BackoffRate": 1.0,
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Notify"}],
            "End": True,
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "status", "Payload.$": "$"},
            "ResultSelector": {"body.$": "$.Payload"},
            "Next": "Failed",
        },
        "Failed": {"Type": "Fail", "Error": "JobFailed", "Cause": "the job failed"},
    },
}


@pytest.fixture(scope="module")
def aws():
    with EmbeddedAws() as embedded:
        embedded.reset()  # moto's backends are process-wide: start from an empty account
        yield embedded


@pytest.fixture(autouse=True)
def _reset_hooks():
    yield
    bridges.set_glue_runner(None)
    bridges.set_lambda_invoker(None)


def _wait(sfn, arn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} still running after {timeout}s")


def _machine(aws, name):
    sfn = aws.client("stepfunctions")
    glue = aws.client("glue")
    glue.create_job(
        Name="job",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"},
        DefaultArguments={"--COMPRESSION_TYPE": "zstd"},
    ) if "job" not in glue.list_jobs()["JobNames"] else None
    iam = aws.client("iam")
    if not iam.list_roles()["Roles"]:
        iam.create_role(
            RoleName="test",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ],
                }
            ),
        )
    lam = aws.client("lambda")
    if "status" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]:
        lam.create_function(
            FunctionName="status",
            Runtime="python3.11",
            Role=ROLE,
            Handler="h.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )
    arn = sfn.create_state_machine(name=name, definition=json.dumps(GLUE_SYNC), roleArn=ROLE)[
        "stateMachineArn"
    ]
    return sfn, arn


def test_only_one_embedded_aws_per_process(aws):
    with pytest.raises(EmbeddedAwsAlreadyRunning):
        EmbeddedAws().start()


def test_terraform_actions_are_answered(aws):
    sfn = aws.client("stepfunctions")
    ok = sfn.validate_state_machine_definition(definition=json.dumps(GLUE_SYNC), type="STANDARD")
    assert ok["result"] == "OK" and ok["diagnostics"] == []
    bad = sfn.validate_state_machine_definition(definition="{not json", type="STANDARD")
    assert bad["result"] == "FAIL" and bad["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    arn = sfn.create_state_machine(
        name="versions", definition=json.dumps(GLUE_SYNC), roleArn=ROLE, publish=True
    )["stateMachineArn"]
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:1"]


def test_glue_sync_runs_the_runner_and_succeeds(aws):
    seen = []
    bridges.set_glue_runner(lambda req: seen.append(req))
    sfn, arn = _machine(aws, "glue-ok")
    exe = sfn.start_execution(stateMachineArn=arn, name="ok-1", input=json.dumps({"manifest_id": "m-1"}))
    desc = _wait(sfn, exe["executionArn"])
    assert desc["status"] == "SUCCEEDED", desc
    output = json.loads(desc["output"])
    assert output["JobRunState"] == "SUCCEEDED"
    assert len(seen) == 1
    assert seen[0].arguments == {"--COMPRESSION_TYPE": "zstd", "--MANIFEST_ID": "m-1"}


def test_glue_failure_fires_the_catch_and_lambda_function_error_fails(aws):
    calls = []

    def runner(req):
        raise bridges.GlueRunFailed("BadRecordRatioExceeded: 9 of 10 lines are bad")

    def invoker(name, payload):
        calls.append((name, json.loads(payload)))
        raise bridges.LambdaFunctionError("StatusUpdateFailed", "table unavailable")

    bridges.set_glue_runner(runner)
    bridges.set_lambda_invoker(invoker)
    sfn, arn = _machine(aws, "glue-fail")
    exe = sfn.start_execution(stateMachineArn=arn, name="fail-1", input=json.dumps({"manifest_id": "m-2"}))
    desc = _wait(sfn, exe["executionArn"])
    assert desc["status"] == "FAILED"
    assert desc["error"] == "StatusUpdateFailed"
    ((name, payload),) = calls
    assert name == "status"
    assert payload["error"]["Error"] == "States.TaskFailed"
    assert "BadRecordRatioExceeded" in json.loads(payload["error"]["Cause"])["ErrorMessage"]


def test_glue_start_rejected_is_retried(aws):
    attempts = []

    def admission(req):
        attempts.append(req)
        if len(attempts) == 1:
            raise bridges.GlueStartRejected("ConcurrentRunsExceededException", "job already running")

    bridges.set_glue_runner(lambda req: None, admission=admission)
    bridges.set_lambda_invoker(lambda name, payload: b'{"ok": true}')
    sfn, arn = _machine(aws, "glue-retry")
    exe = sfn.start_execution(stateMachineArn=arn, name="retry-1", input=json.dumps({"manifest_id": "m-3"}))
    desc = _wait(sfn, exe["executionArn"])
    assert desc["status"] == "SUCCEEDED", desc
    assert len(attempts) == 2


def test_run_stays_running_until_the_runner_returns(aws):
    release = threading.Event()
    bridges.set_glue_runner(lambda req: release.wait(10))
    glue = aws.client("glue")
    _machine(aws, "glue-state")
    run_id = glue.start_job_run(JobName="job")["JobRunId"]
    assert glue.get_job_run(JobName="job", RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING"
    release.set()
    deadline = time.monotonic() + 10
    while glue.get_job_run(JobName="job", RunId=run_id)["JobRun"]["JobRunState"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert glue.get_job_run(JobName="job", RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"


def test_sqs_event_source_mapping_does_not_consume(aws):
    invoked = []
    bridges.set_lambda_invoker(lambda name, payload: invoked.append(name) or b"null")
    sqs = aws.client("sqs")
    lam = aws.client("lambda")
    _machine(aws, "esm")
    url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName="status", BatchSize=10)
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert invoked == []
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["hello"]


def test_sdk_s3_get_object_returns_text(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="reports")
    s3.put_object(Bucket="reports", Key="r.json", Body=b'{"records_out": 3}')
    definition = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "reports", "Key": "r.json"},
                "ResultSelector": {"report.$": "States.StringToJson($.Body)"},
                "End": True,
            },
        },
    }
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name="sdk-s3", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    exe = sfn.start_execution(stateMachineArn=arn, name="read-1", input="{}")
    desc = _wait(sfn, exe["executionArn"])
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"report": {"records_out": 3}}


def test_redrive_policy_is_compact_json(aws):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="compact-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}, separators=(",", ":"))
    url = sqs.create_queue(QueueName="compact", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
        "RedrivePolicy"
    ]
    assert got == policy


def test_queue_counts_and_retention_keep_moto_semantics(aws):
    """sqs-counts-one-clock-read / sqs-retention-one-attribute: same answers as AWS and moto, O(1) clock reads."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="counts", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    assert len(got) == 1 and got[0]["Body"] in {"a", "b", "c"}  # within its retention period: delivered
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    assert counts == dict(zip(names, ["2", "1", "1"], strict=True))
