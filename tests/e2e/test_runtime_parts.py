"""The embedded runtime's parts against the embedded AWS, with small handlers written by the tests.

The SQS poller (batch size, visibility timeout, batchItemFailures, function errors, redrive to the DLQ), the
Lambda runner (per-function environment at cold start, context, errors through the moto bridge) and the schedule
timer, each on resources created here with boto3 (no Terraform: that is the end-to-end test's job).
"""

from __future__ import annotations

import io
import json
import os
import textwrap
import time
import zipfile

import pytest

from pipeline.embedded import bridges
from pipeline.embedded.bridges import LambdaFunctionError
from pipeline.embedded.lambda_runner import LambdaRunner
from pipeline.embedded.poller import EventSourcePoller, discover_sqs_mappings, failed_message_ids
from pipeline.embedded.schedules import ScheduleTimer, discover_scheduled_targets, rate_seconds
from pipeline.embedded.server import EmbeddedAws

HANDLER = textwrap.dedent("""
    import json
    import os

    MODE = os.environ["MODE"]          # read once, at cold start, as the project's handlers do
    SEEN = []

    def handler(event, context):
        if "Records" not in event:
            SEEN.append(event)
            return {"mode": MODE, "function": context.function_name,
                    "remaining_ok": context.get_remaining_time_in_millis() > 0}
        SEEN.append([r["body"] for r in event["Records"]])
        if any(r["body"] == "boom" for r in event["Records"]):
            raise RuntimeError("boom in the batch")
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")]
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1
        return {"batchItemFailures": failures}
""")


@pytest.fixture(scope="module")
def aws():
    with EmbeddedAws() as embedded:
        yield embedded


@pytest.fixture
def handler_dir(tmp_path):
    (tmp_path / "fake_fn.py").write_text(HANDLER, encoding="utf-8")
    return tmp_path


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fake_fn.py", HANDLER)
    return buffer.getvalue()


def _function(aws, name: str, mode: str) -> str:
    iam, lam = aws.client("iam"), aws.client("lambda")
    try:
        role = iam.get_role(RoleName="fn-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="fake_fn.handler",
        Code={"ZipFile": _zip()},
        Timeout=30,
        Environment={"Variables": {"MODE": mode}},
    )
    return name


def _queues(aws, name: str, visibility: int = 1, max_receive: int = 2) -> tuple[str, str, str]:
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, arn, dlq


def _depth(aws, url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    return sum(int(v) for v in attributes["Attributes"].values())


def test_poller_deletes_successes_retries_failures_and_redrives_to_the_dlq(aws, handler_dir, tmp_path):
    function = _function(aws, "fn-partial", mode="partial")
    queue, queue_arn, dlq = _queues(aws, "ingest-partial", visibility=1, max_receive=2)
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=function,
        BatchSize=4,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs = aws.client("sqs")
    for body in ["ok-1", "bad-1", "ok-2", "ok-3", "ok-4", "bad-2"]:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    # moto's own synchronous dispatch is off (bridge): the messages wait for our poller.
    assert _depth(aws, queue) == 6

    runner = LambdaRunner(aws.endpoint_url, handler_dir=handler_dir, log_dir=tmp_path / "logs")
    [mapping] = discover_sqs_mappings(aws.endpoint_url, function_names=[function])
    assert (mapping.batch_size, mapping.visibility_timeout, mapping.report_batch_item_failures) == (
        4,
        1,
        True,
    )
    poller = EventSourcePoller(aws.endpoint_url, runner.invoke, [mapping])

    assert poller.poll_once(mapping) == 4  # batch size honoured
    assert poller.poll_once(mapping) == 2
    assert poller.poll_once(mapping) == 0  # the two failures are invisible for the visibility timeout
    assert poller.stats.deleted == 4 and poller.stats.retried == 2
    time.sleep(1.2)
    assert poller.poll_once(mapping) == 2  # back after the visibility timeout, second receive
    time.sleep(1.2)
    assert poller.poll_once(mapping) == 0  # received maxReceiveCount times: SQS moved them to the DLQ
    assert _depth(aws, queue) == 0
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == ["bad-1", "bad-2"]
    module_state = runner._function(function).handler.__globals__["SEEN"]
    assert sorted(b for batch in module_state for b in batch) == sorted(
        ["ok-1", "bad-1", "ok-2", "ok-3", "ok-4", "bad-2", "bad-1", "bad-2"]
    )


def test_a_function_error_leaves_the_whole_batch_in_the_queue(aws, handler_dir, tmp_path):
    function = _function(aws, "fn-error", mode="error")
    queue, queue_arn, _ = _queues(aws, "ingest-error", visibility=1, max_receive=5)
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=function, BatchSize=10
    )
    sqs = aws.client("sqs")
    for body in ["a", "boom", "c"]:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    runner = LambdaRunner(aws.endpoint_url, handler_dir=handler_dir, log_dir=tmp_path / "logs")
    [mapping] = discover_sqs_mappings(aws.endpoint_url, function_names=[function])
    poller = EventSourcePoller(aws.endpoint_url, runner.invoke, [mapping])
    assert poller.poll_once(mapping) == 3
    assert poller.stats.function_errors == 1 and poller.stats.deleted == 0
    assert _depth(aws, queue) == 3
    assert "boom in the batch" in (tmp_path / "logs" / "lambda.log").read_text()
    # Threaded mode: the batch comes back and fails again, nothing is lost.
    poller.start()
    time.sleep(2.5)
    poller.stop()
    assert poller.stats.invocations >= 2 and poller.stats.deleted == 0
    assert _depth(aws, queue) == 3


def test_runner_gives_each_function_its_environment_and_errors_cross_moto_as_function_errors(
    aws, handler_dir, tmp_path
):
    _function(aws, "fn-env", mode="from-terraform")
    runner = LambdaRunner(aws.endpoint_url, handler_dir=handler_dir, log_dir=tmp_path / "logs")
    bridges.set_lambda_invoker(runner.invoke)
    try:
        response = aws.client("lambda").invoke(FunctionName="fn-env", Payload=json.dumps({"action": "ping"}))
        assert "FunctionError" not in response
        assert json.loads(response["Payload"].read()) == {
            "mode": "from-terraform",
            "function": "fn-env",
            "remaining_ok": True,
        }
        # A raised exception becomes an AWS function error with the exception's type as errorType.
        bad = aws.client("lambda").invoke(
            FunctionName="fn-env", Payload=json.dumps({"Records": [{"body": "boom", "messageId": "1"}]})
        )
        assert bad["FunctionError"] == "Unhandled"
        assert json.loads(bad["Payload"].read())["errorType"] == "RuntimeError"
    finally:
        bridges.set_lambda_invoker(None)
    # Two functions may not give one process-wide variable two values.
    _function(aws, "fn-env-other", mode="something-else")
    with pytest.raises(LambdaFunctionError) as conflict:
        runner.invoke("fn-env-other", b"{}")
    assert conflict.value.error_type == "EmbeddedEnvironmentConflict"


def test_schedule_timer_fires_the_deployed_target_input(aws, handler_dir, tmp_path):
    function = _function(aws, "fn-flush", mode="from-terraform")
    arn = aws.client("lambda").get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    events = aws.client("events")
    events.put_rule(Name="flush-every-5", ScheduleExpression="rate(5 minutes)")
    events.put_targets(
        Rule="flush-every-5", Targets=[{"Id": "1", "Arn": arn, "Input": '{"action": "flush"}'}]
    )
    [target] = [
        t
        for t in discover_scheduled_targets(aws.endpoint_url, interval_override=0.2)
        if t.function_name == function
    ]
    assert json.loads(target.payload) == {"action": "flush"}
    runner = LambdaRunner(aws.endpoint_url, handler_dir=handler_dir, log_dir=tmp_path / "logs")
    timer = ScheduleTimer([target], runner.invoke).start()
    time.sleep(0.9)
    timer.stop()
    assert timer.fired >= 2 and timer.errors == 0
    seen = runner._function(function).handler.__globals__["SEEN"]
    assert seen and all(event == {"action": "flush"} for event in seen)
    assert rate_seconds("rate(5 minutes)") == 300 and rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("cron(0 * * * ? *)") is None


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b'{"batchItemFailures": []}', set()),
        (b"null", set()),
        (b"{}", set()),
        (b'{"batchItemFailures": [{"itemIdentifier": "m2"}]}', {"m2"}),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "unknown"}]}', None),
        (b'{"batchItemFailures": [{"id": "m1"}]}', None),
        (b"not json", None),
    ],
)
def test_batch_item_failures_follow_lambdas_rules(response, expected):
    assert failed_message_ids(response, {"m1", "m2"}) == expected


METERED = textwrap.dedent("""
    import os
    from types import SimpleNamespace

    from pipeline.contracts import metrics as m
    from pipeline.control_plane.metrics import MetricsRecorder

    APP = SimpleNamespace(metrics=MetricsRecorder(os.environ["METRICS_NAMESPACE"]))

    def handler(event, context):
        APP.metrics.add(m.FILES_TRACKED, event["tracked"])
        APP.metrics.gauge(m.FRESHNESS, event["age"])
        APP.metrics.flush()
        return {}
""")


def test_runner_puts_the_handlers_emf_lines_into_the_embedded_cloudwatch(aws, tmp_path):
    """What CloudWatch Logs does with an EMF line on AWS: the metrics appear, and the line stays in the log."""
    from datetime import UTC, datetime, timedelta

    (tmp_path / "metered_fn.py").write_text(METERED, encoding="utf-8")
    iam, lam = aws.client("iam"), aws.client("lambda")
    try:
        role = iam.get_role(RoleName="fn-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    namespace = "runtime-parts/pipeline"
    lam.create_function(
        FunctionName="fn-metered",
        Runtime="python3.11",
        Role=role,
        Handler="metered_fn.handler",
        Code={"ZipFile": _zip()},
        Timeout=30,
        Environment={"Variables": {"METRICS_NAMESPACE": namespace}},
    )
    runner = LambdaRunner(aws.endpoint_url, handler_dir=tmp_path, log_dir=tmp_path / "logs")
    runner.invoke("fn-metered", json.dumps({"tracked": 3, "age": 40}).encode())
    runner.invoke("fn-metered", json.dumps({"tracked": 2, "age": 95.5}).encode())
    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(UTC)

    def stat(name: str, statistic: str) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": "service", "Value": "manifest-builder"}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=600,
            Statistics=[statistic],
        )["Datapoints"]
        return sum(p[statistic] for p in points)

    assert stat("FilesTracked", "Sum") == 5
    assert stat("OldestPendingAgeSeconds", "Maximum") == 95.5
    log = (tmp_path / "logs" / "lambda.log").read_text()
    assert log.count('"_aws"') == 2 and runner.metrics.lines == 2
    os.environ.pop("METRICS_NAMESPACE", None)  # the runner's environment is process-wide


def test_the_embedded_alarm_evaluator_alarms_when_the_flush_stops_and_clears_when_it_resumes(aws):
    """moto never evaluates alarms: the evaluator does, on the stored datapoints, and notifies like CloudWatch."""
    from datetime import UTC, datetime, timedelta

    from pipeline.embedded.alarms import evaluate_alarms

    cloudwatch, sns, sqs = aws.client("cloudwatch"), aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="alarm-eval-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="alarm-eval-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    namespace, dimensions = "alarm-eval/pipeline", [{"Name": "service", "Value": "manifest-builder"}]
    # as terraform/modules/monitoring declares the freshness alarm (objective 15 minutes)
    cloudwatch.put_metric_alarm(
        AlarmName="alarm-eval-freshness-objective",
        Namespace=namespace,
        MetricName="OldestPendingAgeSeconds",
        Dimensions=dimensions,
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=900,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    t0 = datetime.now(UTC).replace(microsecond=0)

    def flush_reports(age: float, at: datetime) -> None:
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "OldestPendingAgeSeconds",
                    "Dimensions": dimensions,
                    "Timestamp": at,
                    "Value": age,
                }
            ],
        )

    def state() -> str:
        return cloudwatch.describe_alarms(AlarmNames=["alarm-eval-freshness-objective"])["MetricAlarms"][0][
            "StateValue"
        ]

    def notifications() -> list[str]:
        got = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in got:
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(json.loads(m["Body"])["Message"])["NewStateValue"] for m in got]

    flush_reports(30, t0 - timedelta(seconds=400))
    flush_reports(45, t0 - timedelta(seconds=100))
    assert evaluate_alarms(aws.endpoint_url, now=t0, prefix="alarm-eval-") == {
        "alarm-eval-freshness-objective": "OK"
    }
    assert state() == "OK" and notifications() == []  # moto creates alarms in OK: no change, no notification

    # The flush stops: no datapoint for two periods is as stale as it gets.
    stopped = t0 + timedelta(minutes=15)
    assert (
        evaluate_alarms(aws.endpoint_url, now=stopped, prefix="alarm-eval-")["alarm-eval-freshness-objective"]
        == "ALARM"
    )
    assert state() == "ALARM" and notifications() == ["ALARM"]
    # Evaluated again without a change: no second notification.
    evaluate_alarms(aws.endpoint_url, now=stopped, prefix="alarm-eval-")
    assert notifications() == []

    # It resumes and reports a small age again: back to OK, notified.
    flush_reports(20, stopped + timedelta(seconds=60))
    flush_reports(5, stopped + timedelta(seconds=360))
    resumed = stopped + timedelta(seconds=420)
    assert (
        evaluate_alarms(aws.endpoint_url, now=resumed, prefix="alarm-eval-")["alarm-eval-freshness-objective"]
        == "OK"
    )
    assert state() == "OK" and notifications() == ["OK"]

    # A flush that runs but finds files older than the objective alarms too.
    flush_reports(1000, resumed + timedelta(seconds=100))
    flush_reports(1300, resumed + timedelta(seconds=400))
    late = resumed + timedelta(seconds=500)
    assert (
        evaluate_alarms(aws.endpoint_url, now=late, prefix="alarm-eval-")["alarm-eval-freshness-objective"]
        == "ALARM"
    )
