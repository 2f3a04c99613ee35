"""`pipeline redrive`: move the dead-letter queue's messages back to the ingest queue, losing none.

Two ways, chosen per call:

- SQS's own message-move task (`StartMessageMoveTask`), when no `--max` is given and the endpoint supports it:
  SQS moves every message server-side and we follow the task until it ends. (moto 5.2.5 does not implement it:
  the embedded AWS answers HTTP 500 "not been implemented", which sends us to the second way.)
- Receive / send / delete: up to 10 messages at a time; each message is deleted from the DLQ only after the ingest
  queue accepted its copy. Interrupted anywhere, a message is either still in the DLQ (it reappears after the
  visibility timeout) or in both queues (the manifest builder's tracking is idempotent: the copy is a no-op).

The ingest queue's redrive policy counts receives per message, so a redriven copy starts with a fresh count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.ops.errors import RedriveFailed

logger = logging.getLogger(__name__)

BATCH = 10
# Codes with which an endpoint says it does not know the action (real SQS never sends them for this action).
_UNSUPPORTED_CODES = frozenset(
    {
        "InvalidAction",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "NotImplemented",
        "UnknownOperationException",
        "501",
    }
)
_TASK_DONE = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

Progress = Callable[[int, int | None], None]  # (moved so far, expected total or None)


@dataclass
class RedriveResult:
    method: str  # "message-move-task" | "receive-send-delete"
    moved: int = 0
    failed_sends: int = 0
    dlq_before: int = 0
    dlq_after: int = 0
    task_status: str | None = None
    task_failure: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed_sends == 0 and self.task_status in (None, "COMPLETED")

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "moved": self.moved,
            "failed_sends": self.failed_sends,
            "dlq_before": self.dlq_before,
            "dlq_after": self.dlq_after,
            "task_status": self.task_status,
            "task_failure": self.task_failure,
            "ok": self.ok,
            "notes": self.notes,
        }


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages, both approximate as SQS reports them."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)), int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def _is_unsupported(exc: Exception, custom_endpoint: bool) -> bool:
    code = _code(exc)
    if code in _UNSUPPORTED_CODES:
        return True
    # moto and other emulators answer an unknown action with a bare HTTP 500; on real AWS a 500 is transient.
    status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    return custom_endpoint and (code == "500" or status in (500, 501))


def _try_move_task(
    sqs_probe: Any,
    sqs: Any,
    dlq_arn: str,
    destination_arn: str,
    custom_endpoint: bool,
    progress: Progress | None,
    poll_seconds: float,
    expected: int,
) -> RedriveResult | None:
    """Run a message-move task to the end; None when the endpoint does not support it."""
    try:
        handle = sqs_probe.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)[
            "TaskHandle"
        ]
    except Exception as exc:
        if _is_unsupported(exc, custom_endpoint):
            logger.info("the endpoint does not support StartMessageMoveTask; moving messages one by one")
            return None
        raise RedriveFailed(
            f"SQS refused the message-move task from {dlq_arn} ({_code(exc) or type(exc).__name__}): {exc}."
        ) from exc
    result = RedriveResult(method="message-move-task")
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else None)
        if task is None:
            raise RedriveFailed(f"The message-move task {handle} disappeared before it ended.")
        result.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if progress is not None:
            progress(result.moved, int(task.get("ApproximateNumberOfMessagesToMove", expected)) or expected)
        status = str(task.get("Status", ""))
        if status in _TASK_DONE:
            result.task_status = status
            result.task_failure = task.get("FailureReason")
            return result
        time.sleep(poll_seconds)


def _send_entries(messages: list[dict[str, Any]], fifo: bool) -> list[dict[str, Any]]:
    entries = []
    for index, message in enumerate(messages):
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
        attributes = message.get("MessageAttributes")
        if attributes:
            entry["MessageAttributes"] = attributes
        if fifo:
            system = message.get("Attributes", {})
            entry["MessageGroupId"] = system.get("MessageGroupId", "redrive")
            entry["MessageDeduplicationId"] = system.get("MessageDeduplicationId", message["MessageId"])
        entries.append(entry)
    return entries


def _move_one_by_one(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    max_messages: int | None,
    progress: Progress | None,
    expected: int,
    visibility_timeout: int,
    empty_receives_to_stop: int,
) -> RedriveResult:
    result = RedriveResult(method="receive-send-delete")
    fifo = queue_url.endswith(".fifo")
    empty = 0
    while max_messages is None or result.moved < max_messages:
        want = BATCH if max_messages is None else min(BATCH, max_messages - result.moved)
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=want,
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility_timeout,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            empty += 1
            if empty >= empty_receives_to_stop:
                break
            continue
        empty = 0
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=_send_entries(messages, fifo))
        ok_ids = {entry["Id"] for entry in sent.get("Successful", [])}
        for failure in sent.get("Failed", []):
            result.failed_sends += 1
            logger.error(
                "redrive: the ingest queue refused a message (%s); it stays in the DLQ", failure.get("Code")
            )
        to_delete = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if str(index) in ok_ids
        ]
        if to_delete:
            deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=to_delete)
            for failure in deleted.get("Failed", []):
                # Sent but not deleted: a duplicate copy may come back later; tracking makes it a no-op.
                result.notes.append(
                    f"delete failed after send ({failure.get('Code')}): a duplicate may follow"
                )
        result.moved += len(to_delete)
        if progress is not None:
            progress(result.moved, expected if max_messages is None else min(expected, max_messages))
        if result.failed_sends and not ok_ids:
            break  # the ingest queue refuses everything: stop instead of spinning
    return result


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    *,
    max_messages: int | None = None,
    sqs_probe: Any | None = None,
    custom_endpoint: bool = False,
    use_move_task: bool = True,
    progress: Progress | None = None,
    poll_seconds: float = 2.0,
    visibility_timeout: int = 120,
    empty_receives_to_stop: int = 2,
) -> RedriveResult:
    """Move DLQ messages to the ingest queue (all, or at most `max_messages`)."""
    if max_messages is not None and max_messages < 1:
        raise RedriveFailed(f"--max must be at least 1, got {max_messages}.")
    visible, in_flight = queue_depth(sqs, dlq_url)
    expected = visible
    result: RedriveResult | None = None
    if use_move_task and max_messages is None and visible > 0:
        result = _try_move_task(
            sqs_probe or sqs,
            sqs,
            queue_arn(sqs, dlq_url),
            queue_arn(sqs, queue_url),
            custom_endpoint,
            progress,
            poll_seconds,
            expected,
        )
    if result is None:
        result = _move_one_by_one(
            sqs,
            dlq_url,
            queue_url,
            max_messages,
            progress,
            expected,
            visibility_timeout,
            empty_receives_to_stop,
        )
        if max_messages is not None and use_move_task:
            result.notes.append(
                "--max given: moved message by message (a message-move task cannot be capped)"
            )
    result.dlq_before = visible
    result.dlq_after = queue_depth(sqs, dlq_url)[0]
    if in_flight:
        result.notes.append(
            f"{in_flight} DLQ message(s) were in flight (being read by someone else) and were left alone"
        )
    return result
