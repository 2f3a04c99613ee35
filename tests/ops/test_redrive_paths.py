"""The two ways of `redrive`: SQS's message-move task (an SQS that has it, faked at the port on top of moto's real
queues, since moto 5.2.5 lacks the action) and the receive/send/delete fallback; and how an endpoint's refusal is
read (a 500 from a custom endpoint means "not implemented", from AWS it is an error)."""

from __future__ import annotations

import json

import pytest

from pipeline.ops.errors import RedriveFailed
from pipeline.ops.redrive import queue_depth, redrive


class SqsWithMoveTasks:
    """moto's SQS client plus StartMessageMoveTask / ListMessageMoveTasks as AWS documents them."""

    def __init__(self, sqs, fail_after: int | None = None) -> None:
        self._sqs = sqs
        self._tasks: list[dict] = []
        self._fail_after = fail_after
        self.started: list[dict] = []

    def __getattr__(self, name):
        return getattr(self._sqs, name)

    def _url(self, arn: str) -> str:
        return self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]

    def start_message_move_task(self, SourceArn, DestinationArn=None, **_):
        self.started.append({"SourceArn": SourceArn, "DestinationArn": DestinationArn})
        source, target = self._url(SourceArn), self._url(DestinationArn)
        moved, failure = 0, None
        while True:
            messages = self._sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                if self._fail_after is not None and moved >= self._fail_after:
                    failure = "AWS.SimpleQueueService.NonExistentQueue"
                    break
                self._sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
            if failure:
                break
        handle = f"task-{len(self._tasks)}"
        self._tasks.insert(
            0,
            {
                "TaskHandle": handle,
                "Status": "FAILED" if failure else "COMPLETED",
                "SourceArn": SourceArn,
                "ApproximateNumberOfMessagesMoved": moved,
                **({"FailureReason": failure} if failure else {}),
            },
        )
        return {"TaskHandle": handle}

    def list_message_move_tasks(self, SourceArn, MaxResults=10):
        return {"Results": [t for t in self._tasks if t["SourceArn"] == SourceArn][:MaxResults]}


def _queues(aws, count):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="r-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="r-ingest",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})},
    )["QueueUrl"]
    for index in range(count):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps({"n": index}),
            MessageAttributes={"origin": {"DataType": "String", "StringValue": "s3"}},
        )
    return sqs, queue, dlq


def _drain(sqs, url):
    bodies = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append((json.loads(message["Body"])["n"], message.get("MessageAttributes", {})))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_the_move_task_is_used_when_sqs_has_it(fresh_aws):
    sqs, queue, dlq = _queues(fresh_aws, 25)
    with_tasks = SqsWithMoveTasks(sqs)
    seen = []
    result = redrive(
        with_tasks,
        dlq,
        queue,
        sqs_probe=with_tasks,
        progress=lambda moved, total: seen.append(moved),
        poll_seconds=0,
    )
    assert (result.method, result.moved, result.task_status, result.ok) == (
        "message-move-task",
        25,
        "COMPLETED",
        True,
    )
    assert result.dlq_before == 25 and result.dlq_after == 0 and seen[-1] == 25
    assert with_tasks.started[0]["DestinationArn"].endswith(
        ":r-ingest"
    )  # explicitly back to the ingest queue
    assert sorted(n for n, _ in _drain(sqs, queue)) == list(range(25))


def test_a_failed_move_task_is_reported(fresh_aws):
    sqs, queue, dlq = _queues(fresh_aws, 12)
    with_tasks = SqsWithMoveTasks(sqs, fail_after=5)
    result = redrive(with_tasks, dlq, queue, sqs_probe=with_tasks, poll_seconds=0)
    assert not result.ok and result.task_status == "FAILED" and result.task_failure
    assert result.moved == 5 and sum(queue_depth(sqs, dlq)) == 7  # the rest is still in the DLQ: nothing lost


def test_fallback_keeps_attributes_and_a_500_from_aws_is_an_error(fresh_aws):
    sqs, queue, dlq = _queues(fresh_aws, 13)
    # moto answers StartMessageMoveTask with HTTP 500: from real AWS that is an error, not "unsupported".
    with pytest.raises(RedriveFailed):
        redrive(sqs, dlq, queue, custom_endpoint=False)
    result = redrive(sqs, dlq, queue, custom_endpoint=True)
    assert (result.method, result.moved, result.dlq_after, result.ok) == ("receive-send-delete", 13, 0, True)
    moved = _drain(sqs, queue)
    assert sorted(n for n, _ in moved) == list(range(13))
    assert all(attributes["origin"]["StringValue"] == "s3" for _, attributes in moved)
    with pytest.raises(RedriveFailed):
        redrive(sqs, dlq, queue, max_messages=0)
