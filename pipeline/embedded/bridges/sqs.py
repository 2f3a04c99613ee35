"""SQS bridges: moto's own event source mappings off (the embedded poller is the one consumer), `RedrivePolicy` as
AWS renders it, and queue counts that do not cost the one process a clock read per message (the gaps are listed in
pipeline/embedded/bridges/__init__.py)."""

from __future__ import annotations

import inspect
import json
from typing import Any

from pipeline.embedded.bridges.check import mark_installed, require, require_method


def bridge_sqs_esm_dispatch() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue, sqs_backends

    name = "sqs-esm-dispatch"
    original = require_method(LambdaBackend, "create_event_source_mapping", name)
    require(
        "lambda_event_source_mappings" in inspect.getsource(Queue),
        name,
        "Queue.lambda_event_source_mappings is gone",
    )

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
    mark_installed(name)


def bridge_sqs_compact_redrive_policy() -> None:
    from moto.sqs.models import Queue

    name = "sqs-compact-redrive-policy"
    original = inspect.getattr_static(Queue, "attributes", None)
    require(isinstance(original, property), name, "Queue.attributes is not a property any more")
    require(
        "json.dumps(self.redrive_policy)" in inspect.getsource(original.fget),
        name,
        "Queue.attributes no longer renders RedrivePolicy with json.dumps",
    )

    def attributes(self: Any) -> dict[str, Any]:
        result = original.fget(self)
        if isinstance(result.get("RedrivePolicy"), str):
            result["RedrivePolicy"] = json.dumps(json.loads(result["RedrivePolicy"]), separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    mark_installed(name)


_SQS_COUNTS = {
    "messages": "message.visible and not message.delayed",
    "approximate_number_of_messages_delayed": "m.delayed",
    "approximate_number_of_messages_not_visible": "not m.visible",
}


def bridge_sqs_counts_one_clock_read() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    name = "sqs-counts-one-clock-read"
    for attribute, expected in _SQS_COUNTS.items():
        original = inspect.getattr_static(Queue, attribute, None)
        require(isinstance(original, property), name, f"Queue.{attribute} is not a property any more")
        require(
            expected in inspect.getsource(original.fget),
            name,
            f"Queue.{attribute} no longer counts with `{expected}`",
        )

    # Same rules as Message.visible / Message.delayed, with one clock read per count instead of two per message.
    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    mark_installed(name)


def bridge_sqs_retention_one_attribute() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    name = "sqs-retention-one-attribute"
    original = require_method(SQSBackend, "is_message_valid_based_on_retention_period", name)
    require(
        '["MessageRetentionPeriod"]' in inspect.getsource(original),
        name,
        "the retention check no longer reads MessageRetentionPeriod from all the queue's attributes",
    )

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    mark_installed(name)
