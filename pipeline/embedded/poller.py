"""Lambda's SQS event source mapping, emulated against the embedded AWS.

moto's own mapping invokes the function inside SendMessage, one message per call, and deletes the message whatever
happens (the moto bridge turns it off). This poller does what the Lambda service does for each SQS mapping that
Terraform created, read back from the embedded Lambda API:

- ReceiveMessage with up to the mapping's `BatchSize` (gathering several receives within
  `MaximumBatchingWindowInSeconds` when the batch size exceeds 10), under the queue's own visibility timeout;
- several pollers per mapping (`concurrency`, 2 by default), so batches are handled concurrently as on AWS;
- one invocation per batch with the event AWS builds (`messageId`, `receiptHandle`, `body`, `attributes` with
  `ApproximateReceiveCount`, `messageAttributes`, `md5OfBody`, `eventSource`, `eventSourceARN`, `awsRegion`);
- on success, DeleteMessage for every record, except those listed in `batchItemFailures` when the mapping has
  `ReportBatchItemFailures`; an invalid failure list or a function error leaves the whole batch in the queue;
- messages left in the queue come back after the visibility timeout, and SQS's redrive policy moves a message
  received `maxReceiveCount` times to the dead-letter queue (moto applies it on receive, as SQS does).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.embedded.bridges import LambdaFunctionError
from pipeline.embedded.server import harness_client

logger = logging.getLogger(__name__)

LambdaInvoke = Callable[[str, bytes], bytes]
SQS_MAX_RECEIVE = 10


@dataclass(frozen=True)
class SqsMapping:
    uuid: str
    function_name: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool
    visibility_timeout: int
    enabled: bool = True


@dataclass
class PollerStats:
    received: int = 0
    invocations: int = 0
    function_errors: int = 0
    deleted: int = 0
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "invocations": self.invocations,
            "function_errors": self.function_errors,
            "deleted": self.deleted,
            "retried": self.retried,
        }


def discover_sqs_mappings(
    endpoint_url: str, *, region: str = "us-east-1", function_names: list[str] | None = None
) -> list[SqsMapping]:
    """The SQS event source mappings deployed to the embedded AWS (optionally only those of some functions)."""
    lam = harness_client("lambda", endpoint_url, region)
    sqs = harness_client("sqs", endpoint_url, region)
    # Listed unfiltered and matched here: moto's FunctionName filter misses mappings created with a function ARN.
    mappings: list[SqsMapping] = []
    for item in _paginate_mappings(lam):
        arn = item.get("EventSourceArn") or ""
        function = item["FunctionArn"].rsplit(":function:", 1)[-1].split(":")[0]
        if not arn.startswith("arn:aws:sqs:") or (function_names and function not in function_names):
            continue
        queue_name = arn.rsplit(":", 1)[-1]
        account = arn.split(":")[4]
        queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
        mappings.append(
            SqsMapping(
                uuid=item["UUID"],
                function_name=function,
                queue_arn=arn,
                queue_url=queue_url,
                batch_size=int(item.get("BatchSize") or 10),
                batching_window_seconds=int(item.get("MaximumBatchingWindowInSeconds") or 0),
                report_batch_item_failures="ReportBatchItemFailures"
                in (item.get("FunctionResponseTypes") or []),
                visibility_timeout=int(attributes["Attributes"].get("VisibilityTimeout", 30)),
                enabled=item.get("State", "Enabled") not in ("Disabled", "Disabling"),
            )
        )
    return mappings


def _paginate_mappings(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        page = client.list_event_source_mappings(**kwargs, **({"Marker": marker} if marker else {}))
        found.extend(page.get("EventSourceMappings", []))
        marker = page.get("NextMarker")
        if not marker:
            return found


def build_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of SQS messages (see the AWS Lambda developer guide, 'Using Lambda
    with Amazon SQS')."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message.get("Body", ""),
                "attributes": {key: str(value) for key, value in (message.get("Attributes") or {}).items()},
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": value.get("StringListValues", []),
                        "binaryListValues": value.get("BinaryListValues", []),
                        "dataType": value.get("DataType"),
                    }
                    for name, value in (message.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def failed_message_ids(response: bytes, message_ids: set[str]) -> set[str] | None:
    """Message ids to keep in the queue, per Lambda's rules for `ReportBatchItemFailures`.

    None means "the whole batch failed": an invalid JSON response, or an item identifier that is missing, empty, or
    not a message of this batch. An empty or absent `batchItemFailures` means every message succeeded.
    """
    if not response or response.strip() in (b"", b"null"):
        return set()
    try:
        parsed = json.loads(response)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return set()
    failures = parsed.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    keep: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in message_ids:
            return None
        keep.add(identifier)
    return keep


class EventSourcePoller:
    """One polling thread per enabled mapping; `poll_once` runs one receive-invoke-delete cycle (tests use it)."""

    def __init__(
        self,
        endpoint_url: str,
        invoke: LambdaInvoke,
        mappings: list[SqsMapping],
        *,
        region: str = "us-east-1",
        idle_wait_seconds: int = 1,
        on_messages: Callable[[SqsMapping, list[dict[str, Any]]], None] | None = None,
        concurrency: int = 2,
    ) -> None:
        self._sqs = harness_client("sqs", endpoint_url, region)
        self._invoke = invoke
        self._region = region
        self._idle_wait = idle_wait_seconds
        self._on_messages = on_messages
        # Lambda polls a queue with several pollers and runs their batches concurrently (five at first on AWS);
        # the manifest builder is built for that, so the embedded run exercises it too.
        self._concurrency = max(1, concurrency)
        self.mappings = [m for m in mappings if m.enabled]
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    # ----------------------------------------------------------------------------------------- lifecycle

    def start(self) -> EventSourcePoller:
        for mapping in self.mappings:
            for index in range(self._concurrency):
                thread = threading.Thread(
                    target=self._loop,
                    args=(mapping,),
                    daemon=True,
                    name=f"esm-{mapping.function_name}-{index}",
                )
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    @property
    def busy(self) -> bool:
        """True while a batch is being handled (received but not yet deleted or released)."""
        return self._busy > 0

    def _loop(self, mapping: SqsMapping) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(mapping, wait_seconds=self._idle_wait)
            except Exception:  # the Lambda service keeps polling whatever happens; so do we
                logger.exception("poller for %s: cycle failed", mapping.function_name)
                self._stop.wait(1.0)

    # ----------------------------------------------------------------------------------------- one cycle

    def poll_once(self, mapping: SqsMapping, wait_seconds: int = 0) -> int:
        """Receive one batch, invoke the function, delete what succeeded. Returns the batch size (0 when idle)."""
        with self._busy_lock:
            self._busy += 1
        try:
            messages = self._receive_batch(mapping, wait_seconds)
            if not messages:
                return 0
            self.stats.add(received=len(messages))
            if self._on_messages is not None:
                self._on_messages(mapping, messages)
            self._handle(mapping, messages)
            return len(messages)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _receive_batch(self, mapping: SqsMapping, wait_seconds: int) -> list[dict[str, Any]]:
        batch: list[Any] = []  # SQS message dicts as boto3 returns them
        deadline = time.monotonic() + mapping.batching_window_seconds
        while len(batch) < mapping.batch_size:
            wait = wait_seconds if not batch else 0
            response = self._sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            batch.extend(received)
            if not batch:
                return batch
            if time.monotonic() >= deadline or self._stop.is_set():
                break
            if not received:
                time.sleep(0.1)
        return batch

    def _handle(self, mapping: SqsMapping, messages: list[dict[str, Any]]) -> None:
        event = build_sqs_event(messages, mapping.queue_arn, self._region)
        self.stats.add(invocations=1)
        try:
            response = self._invoke(mapping.function_name, json.dumps(event).encode())
        except LambdaFunctionError as error:
            # A function error: the whole batch stays; it comes back after the visibility timeout.
            self.stats.add(function_errors=1, retried=len(messages))
            logger.warning(
                "%s failed on a batch of %d (%s: %s); the batch returns after %ds",
                mapping.function_name,
                len(messages),
                error.error_type,
                error.message,
                mapping.visibility_timeout,
            )
            return
        ids = {m["MessageId"] for m in messages}
        keep = failed_message_ids(response, ids) if mapping.report_batch_item_failures else set()
        if keep is None:
            self.stats.add(retried=len(messages))
            logger.warning(
                "%s returned an invalid batchItemFailures list: the whole batch is retried",
                mapping.function_name,
            )
            return
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), SQS_MAX_RECEIVE):
            chunk = done[start : start + SQS_MAX_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        self.stats.add(deleted=len(done), retried=len(keep))
        if keep:
            logger.info(
                "%s reported %d of %d messages failed; they return after %ds",
                mapping.function_name,
                len(keep),
                len(messages),
                mapping.visibility_timeout,
            )
