"""The "Pipeline metrics" of `pipeline status`: the stack's own metrics (docs/observability.md) read back from
CloudWatch with ONE GetMetricData call, bounded to the last 24 hours at one-minute periods (9 queries, at most
9 x 1441 datapoints, well under the call's 100,800): the sums of the last hour and of the last 24 hours, and the
latest freshness against the objective. Works the same on AWS and on the embedded AWS (where the runners put the
EMF lines into moto's CloudWatch, pipeline/embedded/emf.py).

Metrics are a view, not a verdict: a missing namespace or a denied call gives ``available: False`` with the
reason, never a failure of `pipeline status`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.contracts import metrics as m
from pipeline.control_plane.adapters.backoff import error_code

PERIOD_SECONDS = 60
WINDOWS = {"last_hour": timedelta(hours=1), "last_24h": timedelta(hours=24)}
# (the key shown, the metric summed)
SUMMED: tuple[tuple[str, m.Metric], ...] = (
    ("files_tracked", m.FILES_TRACKED),
    ("duplicates_ignored", m.DUPLICATE_EVENTS),
    ("batches_started", m.MANIFESTS_STARTED),
    ("batches_completed", m.MANIFESTS_COMPLETED),
    ("batches_failed", m.MANIFESTS_FAILED),
    ("records_in", m.RECORDS_IN),
    ("rows_out", m.ROWS_OUT),
    ("quarantined", m.QUARANTINED),
)
FRESHNESS_ID = "freshness"


def _query(query_id: str, namespace: str, metric: m.Metric, stat: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric.name,
                "Dimensions": [{"Name": m.SERVICE_DIMENSION, "Value": metric.service}],
            },
            "Period": PERIOD_SECONDS,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def metric_queries(namespace: str) -> list[dict[str, Any]]:
    """The queries of the one GetMetricData call: a Sum per summed metric, the Maximum of the freshness."""
    queries = [_query(f"q{i}", namespace, metric, "Sum") for i, (_, metric) in enumerate(SUMMED)]
    queries.append(_query(FRESHNESS_ID, namespace, m.FRESHNESS, "Maximum"))
    return queries


def window(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the call: whole minutes, the last 24 hours up to and including the current minute."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - WINDOWS["last_24h"], end


def assemble(
    results: list[dict[str, Any]],
    *,
    namespace: str,
    end: datetime,
    objective_seconds: int | None = None,
) -> dict[str, Any]:
    """The section from GetMetricData's MetricDataResults (pure: the unit test feeds it results)."""
    by_id = {r["Id"]: r for r in results}
    sums: dict[str, dict[str, float]] = {name: {} for name in WINDOWS}
    for i, (key, _) in enumerate(SUMMED):
        result = by_id.get(f"q{i}", {})
        points = list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        for name, span in WINDOWS.items():
            since = end - span
            sums[name][key] = float(sum(v for t, v in points if since <= t.astimezone(UTC) < end))
    section: dict[str, Any] = {"available": True, "namespace": namespace, **sums}
    fresh = by_id.get(FRESHNESS_ID, {})
    latest = max(
        zip(fresh.get("Timestamps", []), fresh.get("Values", []), strict=False),
        key=lambda point: point[0],
        default=None,
    )
    freshness: dict[str, Any] = {
        "seconds": None if latest is None else float(latest[1]),
        "at": None if latest is None else latest[0].astimezone(UTC).isoformat(),
        "objective_seconds": objective_seconds,
        "within_objective": None,
    }
    if latest is not None and objective_seconds is not None:
        freshness["within_objective"] = float(latest[1]) <= objective_seconds
    section["freshness"] = freshness
    return section


def unavailable(reason: str, namespace: str | None = None) -> dict[str, Any]:
    return {"available": False, "namespace": namespace, "reason": reason}


def read_pipeline_metrics(
    cloudwatch: Any,
    namespace: str | None,
    *,
    objective_seconds: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One GetMetricData call for the stack's namespace; ``unavailable(reason)`` when it cannot be read."""
    if not namespace:
        return unavailable(
            "the stack outputs give no `metrics_namespace` (point --outputs at `terraform output -json` of a "
            "stack that has it)"
        )
    start, end = window(now or datetime.now(UTC))
    try:
        response = cloudwatch.get_metric_data(
            MetricDataQueries=metric_queries(namespace),
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
            MaxDatapoints=100800,
        )
    except ClientError as exc:
        code = error_code(exc)
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            return unavailable(
                f"CloudWatch denied GetMetricData ({code}): the operators' policy needs cloudwatch:GetMetricData "
                "(terraform output operator_policy_json)",
                namespace,
            )
        return unavailable(f"CloudWatch GetMetricData failed ({code})", namespace)
    except BotoCoreError as exc:
        return unavailable(f"CloudWatch could not be reached ({type(exc).__name__})", namespace)
    return assemble(
        response.get("MetricDataResults", []),
        namespace=namespace,
        end=end,
        objective_seconds=objective_seconds,
    )
