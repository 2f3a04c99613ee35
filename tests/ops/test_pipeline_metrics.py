"""`pipeline status`'s "Pipeline metrics": one GetMetricData call on the embedded CloudWatch, the sums of the last
hour and of the last 24 hours and the latest freshness against the objective, and "unavailable" (not a failure)
when the namespace is missing or CloudWatch denies the call. The demo's exact counts, read as the operators'
role, are in tests/e2e/test_embedded_pipeline.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from botocore.stub import Stubber

from pipeline.contracts import metrics as m
from pipeline.ops.pipeline_metrics import assemble, metric_queries, read_pipeline_metrics, window


def _put(cloudwatch, namespace: str, metric: m.Metric, value: float, at: datetime) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric.name,
                "Dimensions": [{"Name": m.SERVICE_DIMENSION, "Value": metric.service}],
                "Timestamp": at,
                "Values": [value],
                "Unit": metric.unit,
            }
        ],
    )


def test_the_sums_split_into_the_last_hour_and_the_last_day_and_the_latest_freshness_wins(fresh_aws):
    # An empty account (moto's backends outlive a server, and the modules run before this one on the same pytest
    # process emit the same metrics): moto 5.2.5's GetMetricData ignores the namespace of a query with dimensions.
    aws = fresh_aws
    namespace = "metrics-view-a/pipeline"
    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(UTC)
    _put(cloudwatch, namespace, m.FILES_TRACKED, 4, now - timedelta(minutes=10))
    _put(cloudwatch, namespace, m.FILES_TRACKED, 3, now - timedelta(hours=3))
    _put(cloudwatch, namespace, m.FILES_TRACKED, 50, now - timedelta(hours=30))  # outside the day
    _put(cloudwatch, namespace, m.RECORDS_IN, 120, now - timedelta(minutes=5))
    _put(cloudwatch, namespace, m.QUARANTINED, 9, now - timedelta(minutes=5))
    _put(cloudwatch, namespace, m.FRESHNESS, 1200, now - timedelta(minutes=30))
    _put(cloudwatch, namespace, m.FRESHNESS, 90, now - timedelta(minutes=2))  # the latest

    got = read_pipeline_metrics(cloudwatch, namespace, objective_seconds=900, now=now)

    assert got["available"] is True and got["namespace"] == namespace
    assert got["last_hour"]["files_tracked"] == 4 and got["last_24h"]["files_tracked"] == 7
    assert got["last_hour"]["records_in"] == got["last_24h"]["records_in"] == 120
    assert got["last_24h"]["quarantined"] == 9 and got["last_24h"]["batches_failed"] == 0
    assert got["freshness"]["seconds"] == 90 and got["freshness"]["within_objective"] is True
    assert got["freshness"]["objective_seconds"] == 900


def test_assembly_bounds_each_window_and_compares_the_freshness_with_the_objective():
    now = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
    start, end = window(now)
    assert (start, end) == (
        datetime(2026, 11, 30, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 12, 1, tzinfo=UTC),
    )
    queries = metric_queries("p/pipeline")
    assert len(queries) == 9 and {q["MetricStat"]["Period"] for q in queries} == {60}
    at = [end - timedelta(minutes=61), end - timedelta(minutes=60), end - timedelta(minutes=1)]
    results = [
        {"Id": "q0", "Timestamps": at, "Values": [1.0, 2.0, 5.0]},  # files tracked
        {"Id": "freshness", "Timestamps": at, "Values": [10.0, 2000.0, 1000.0]},
    ]
    got = assemble(results, namespace="p/pipeline", end=end, objective_seconds=900)
    assert got["last_hour"]["files_tracked"] == 7 and got["last_24h"]["files_tracked"] == 8
    assert got["last_24h"]["rows_out"] == 0  # no datapoint: zero, not missing
    assert got["freshness"]["seconds"] == 1000 and got["freshness"]["within_objective"] is False
    assert assemble([], namespace="p/pipeline", end=end)["freshness"]["seconds"] is None


def test_a_missing_namespace_or_a_denied_call_is_unavailable_with_its_reason(aws):
    missing = read_pipeline_metrics(aws.client("cloudwatch"), None)
    assert missing["available"] is False and "metrics_namespace" in missing["reason"]

    cloudwatch = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(cloudwatch) as stub:  # what CloudWatch answers a role without the permission
        stub.add_client_error("get_metric_data", service_error_code="AccessDenied", http_status_code=403)
        denied = read_pipeline_metrics(cloudwatch, "p/pipeline")
    assert denied["available"] is False and "cloudwatch:GetMetricData" in denied["reason"]
    assert "AccessDenied" in denied["reason"]
