"""Scheduled invocations (EventBridge rules and EventBridge Scheduler schedules) fired on a local timer.

moto stores schedules but never fires them. This reads back every schedule that Terraform deployed with a Lambda
target and invokes the target with the target's own `Input` (e.g. `{"action": "flush"}`) on a timer. The interval
is the deployed rate unless the caller shortens it (a demo cannot wait five minutes for a flush).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline.embedded.bridges import LambdaFunctionError
from pipeline.embedded.server import harness_client

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class ScheduledTarget:
    source: str  # "events:<rule>" or "scheduler:<group>/<name>"
    function_name: str
    payload: bytes
    interval_seconds: float


def rate_seconds(expression: str) -> float | None:
    """Seconds between firings of `rate(N unit)`; None for cron expressions (fired at the default interval)."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    unit = match.group(2).rstrip("s")
    return float(int(match.group(1)) * _UNIT_SECONDS[unit])


def discover_scheduled_targets(
    endpoint_url: str, *, region: str = "us-east-1", interval_override: float | None = None
) -> list[ScheduledTarget]:
    targets: list[ScheduledTarget] = []
    events = harness_client("events", endpoint_url, region)
    for page in events.get_paginator("list_rules").paginate():
        for rule in page.get("Rules", []):
            expression = rule.get("ScheduleExpression")
            if not expression or rule.get("State") == "DISABLED":
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", []):
                if ":lambda:" in target["Arn"]:
                    targets.append(
                        _lambda_target(f"events:{rule['Name']}", target, expression, interval_override)
                    )
    scheduler = harness_client("scheduler", endpoint_url, region)
    try:
        schedules = scheduler.list_schedules().get("Schedules", [])
    except ClientError:
        schedules = []
    for summary in schedules:
        if summary.get("State") == "DISABLED":
            continue
        detail = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        schedule_target = detail.get("Target") or {}
        if ":lambda:" not in schedule_target.get("Arn", ""):
            continue
        source = f"scheduler:{summary.get('GroupName', 'default')}/{summary['Name']}"
        targets.append(
            _lambda_target(source, schedule_target, detail.get("ScheduleExpression", ""), interval_override)
        )
    return targets


def _lambda_target(
    source: str, target: Mapping[str, Any], expression: str, interval_override: float | None
) -> ScheduledTarget:
    """A rule's or a schedule's Lambda target, every `interval_override` seconds or at its rate (300 s when the
    expression is not a rate)."""
    return ScheduledTarget(
        source=source,
        function_name=_function_name(target["Arn"]),
        payload=(target.get("Input") or "{}").encode(),
        interval_seconds=interval_override or rate_seconds(expression) or 300.0,
    )


def _function_name(arn: str) -> str:
    return arn.rsplit(":function:", 1)[-1].split(":")[0]


class ScheduleTimer:
    """Fires each target every `interval_seconds` (first firing after one interval) until stopped."""

    def __init__(self, targets: list[ScheduledTarget], invoke: Callable[[str, bytes], bytes]) -> None:
        self.targets = targets
        self._invoke = invoke
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.fired = 0
        self.errors = 0
        self._lock = threading.Lock()

    def start(self) -> ScheduleTimer:
        for target in self.targets:
            thread = threading.Thread(
                target=self._loop, args=(target,), daemon=True, name=f"schedule-{target.function_name}"
            )
            thread.start()
            self._threads.append(thread)
        return self

    def fire_all(self) -> None:
        """Fire every target once now (used to flush at the end of a run without waiting for the timer)."""
        for target in self.targets:
            self._fire(target)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self, target: ScheduledTarget) -> None:
        while not self._stop.wait(target.interval_seconds):
            self._fire(target)

    def _fire(self, target: ScheduledTarget) -> None:
        try:
            self._invoke(target.function_name, target.payload)
        except LambdaFunctionError as error:
            with self._lock:
                self.errors += 1
            logger.warning("scheduled %s -> %s failed: %s", target.source, target.function_name, error)
        except Exception:
            with self._lock:
                self.errors += 1
            logger.exception("scheduled %s -> %s crashed", target.source, target.function_name)
        else:
            with self._lock:
                self.fired += 1
        logger.debug("fired %s -> %s (%s)", target.source, target.function_name, json.loads(target.payload))
