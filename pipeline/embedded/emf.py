"""EMF lines into the embedded CloudWatch: what CloudWatch Logs does on AWS with a log line in Embedded Metric
Format (it extracts the metrics), done here by parsing the lines the Lambda handlers and the Glue job emit and
calling PutMetricData on moto, so `pipeline status`, the dashboard's metrics and the tests read real datapoints.
The line itself still goes to the component's log file, as it would to its log group."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.contracts.metrics import parse_emf
from pipeline.embedded.server import harness_client

logger = logging.getLogger(__name__)
MAX_DATA_PER_CALL = 1000


class EmbeddedMetrics:
    """``sink(log_path)`` -> a callable taking one EMF line: appended to ``log_path``, its metrics put to moto."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        self._cloudwatch = harness_client(
            "cloudwatch", endpoint_url, region
        )  # CloudWatch Logs' own extraction, not a component
        self._lock = threading.Lock()
        self.lines = 0
        self.bytes = 0

    def sink(self, log_path: Path | None) -> Any:
        def write(line: str) -> None:
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with self._lock, log_path.open("a", encoding="utf-8") as stream:
                    stream.write(line.rstrip("\n") + "\n")
            self.put(line)

        return write

    def put(self, line: str) -> int:
        """Put the datapoints of one EMF line; how many. A line that is not EMF puts nothing."""
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for point in parse_emf(line):
            by_namespace.setdefault(str(point["namespace"]), []).append(
                {
                    "MetricName": point["name"],
                    "Dimensions": [{"Name": k, "Value": v} for k, v in point["dimensions"].items()],
                    "Timestamp": datetime.fromtimestamp(point["timestamp_ms"] / 1000, tz=UTC),
                    "Values": point["values"],
                    "Unit": point["unit"],
                }
            )
        with self._lock:
            self.lines += 1
            self.bytes += len(line.encode("utf-8"))
        put = 0
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), MAX_DATA_PER_CALL):
                chunk = data[start : start + MAX_DATA_PER_CALL]
                try:
                    self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                except Exception as exc:  # metrics never fail the invocation that emitted them
                    logger.warning("could not put %d metric(s) of %s: %s", len(chunk), namespace, exc)
                    continue
                put += len(chunk)
        return put
