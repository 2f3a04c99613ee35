"""The control plane's metrics: values added during an invocation, written as one EMF line when it ends.

Built on aws-lambda-powertools' EMF provider (its own metric set per recorder, not the process-wide one of
``Metrics``, so two functions in one process, as in the embedded AWS, never mix); the line goes to ``emit``
(``print``: stdout is the function's CloudWatch log, which turns EMF into metrics, no PutMetricData call). Names,
units and the one dimension come from ``pipeline.contracts.metrics``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from pipeline.contracts.metrics import LAMBDA_SERVICE, Metric


class MetricsRecorder:
    """``add`` (a count, summed) and ``gauge`` (a level, the highest kept) from anywhere in the invocation
    (thread-safe); ``flush`` once at its end: one value per metric per line, so the line stays small whatever the
    batch size. Without a namespace (tests that build the service by hand) nothing is written."""

    def __init__(
        self, namespace: str | None, service: str = LAMBDA_SERVICE, emit: Callable[[str], None] = print
    ) -> None:
        self.namespace = namespace or None
        self.service = service
        self.emit = emit
        self._values: dict[str, tuple[Metric, float]] = {}
        self._lock = threading.Lock()

    def add(self, metric: Metric, value: float = 1) -> None:
        with self._lock:
            _, total = self._values.get(metric.name, (metric, 0.0))
            self._values[metric.name] = (metric, total + value)

    def gauge(self, metric: Metric, value: float) -> None:
        with self._lock:
            _, highest = self._values.get(metric.name, (metric, value))
            self._values[metric.name] = (metric, max(highest, value))

    def flush(self) -> str | None:
        """Write the metrics added since the last flush as one EMF line (returned); None when there were none."""
        with self._lock:
            values, self._values = self._values, {}
        if not values or self.namespace is None:
            return None
        provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service=self.service)
        for name, (metric, value) in values.items():
            provider.add_metric(name=name, unit=metric.unit, value=value)
        line = json.dumps(provider.serialize_metric_set(), separators=(",", ":"))
        self.emit(line)
        return line
