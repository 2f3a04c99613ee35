"""Alarm evaluation for the embedded CloudWatch, which stores alarms but never evaluates them.

`evaluate_alarms` does what CloudWatch does for a single-metric alarm on the datapoints moto holds: the last
`EvaluationPeriods` periods up to `now`, each one's statistic against the threshold, missing periods treated as
`TreatMissingData` says, ALARM when at least `DatapointsToAlarm` of them breach, OK when none is left to decide
otherwise; on a change it sets the state (`SetAlarmState`) and publishes the notification to the alarm's (or OK)
actions' SNS topics, as CloudWatch would. Metric-math alarms (the bad-record ratio) are left alone: their state
stays as moto keeps it. `AlarmEvaluator` runs it every minute for `pipeline up`/`demo`.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.embedded.server import harness_client

logger = logging.getLogger(__name__)

_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def _period_values(cloudwatch: Any, alarm: dict[str, Any], now: datetime) -> list[float | None]:
    """The statistic of each of the last EvaluationPeriods periods, newest first (None: no datapoint)."""
    period = int(alarm["Period"])
    values: list[float | None] = []
    for k in range(int(alarm["EvaluationPeriods"])):
        end = now - timedelta(seconds=k * period)
        points = cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=end - timedelta(seconds=period),
            EndTime=end,
            Period=period,
            Statistics=[alarm["Statistic"]],
        )["Datapoints"]
        stats = [p[alarm["Statistic"]] for p in points if alarm["Statistic"] in p]
        if not stats:
            values.append(None)
        elif alarm["Statistic"] == "Maximum":
            values.append(max(stats))
        elif alarm["Statistic"] == "Minimum":
            values.append(min(stats))
        else:
            values.append(sum(stats))
    return values


def decide(alarm: dict[str, Any], values: list[float | None]) -> tuple[str, str]:
    """(state, reason) for these period values, newest first."""
    compare = _COMPARE[alarm["ComparisonOperator"]]
    missing = alarm.get("TreatMissingData") or "missing"
    needed = int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"])
    breaching = 0
    known = 0
    for value in values:
        if value is None:
            if missing == "breaching":
                breaching, known = breaching + 1, known + 1
            elif missing == "notBreaching":
                known += 1
            continue
        known += 1
        breaching += bool(compare(value, float(alarm["Threshold"])))
    shown = ["missing" if v is None else f"{v:g}" for v in values]
    reason = (
        f"{breaching} of the last {len(values)} periods breaching (threshold {alarm['Threshold']:g}): {shown}"
    )
    if breaching >= needed:
        return "ALARM", reason
    if known == 0:
        return "INSUFFICIENT_DATA", reason
    return "OK", reason


def evaluate_alarms(
    endpoint_url: str, region: str = "us-east-1", now: datetime | None = None, prefix: str = ""
) -> dict[str, str]:
    """Evaluate every single-metric alarm (named ``prefix*``); {alarm name: state after}."""
    now = now or datetime.now(UTC)
    # CloudWatch's own alarm evaluation, not a component: the harness identity (never the process environment).
    cloudwatch: Any = harness_client("cloudwatch", endpoint_url, region)
    sns: Any = harness_client("sns", endpoint_url, region)
    states: dict[str, str] = {}
    alarms = (
        cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
        if prefix
        else (cloudwatch.describe_alarms()["MetricAlarms"])
    )
    for alarm in alarms:
        if "MetricName" not in alarm or alarm.get("ComparisonOperator") not in _COMPARE:
            continue
        state, reason = decide(alarm, _period_values(cloudwatch, alarm, now))
        states[alarm["AlarmName"]] = state
        if state == alarm.get("StateValue"):
            continue
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason)
        actions = {"ALARM": alarm.get("AlarmActions"), "OK": alarm.get("OKActions")}.get(state) or []
        message = {
            "AlarmName": alarm["AlarmName"],
            "NewStateValue": state,
            "OldStateValue": alarm.get("StateValue"),
            "NewStateReason": reason,
            "StateChangeTime": now.isoformat(),
            "Trigger": {"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"]},
        }
        for arn in actions:
            if ":sns:" in arn:
                sns.publish(
                    TopicArn=arn,
                    Subject=f'{state}: "{alarm["AlarmName"]}"'[:100],
                    Message=json.dumps(message),
                )
    return states


class AlarmEvaluator:
    """Evaluates the embedded alarms every ``interval`` seconds in a daemon thread."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1", interval: float = 60.0) -> None:
        self._endpoint = endpoint_url
        self._region = region
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AlarmEvaluator:
        self._thread = threading.Thread(target=self._loop, name="alarm-evaluator", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                evaluate_alarms(self._endpoint, self._region)
            except Exception:  # never take the stack down for an alarm
                logger.debug("alarm evaluation failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
