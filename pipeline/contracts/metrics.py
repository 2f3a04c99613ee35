"""The pipeline's CloudWatch metrics, in one place (stdlib only, shipped in the Lambda zip and the Glue package).

Every metric the code emits, the dashboard (``dashboard_body``, rendered into ``terraform/modules/monitoring``) and
the alarms name comes from here: one source of truth, checked by ``tests/unit/test_metrics_contract.py``.

- Namespace: one per stack, ``<name_prefix>/pipeline`` (``namespace_for``); Terraform passes it to the Lambdas as
  ``METRICS_NAMESPACE`` and to the Glue job as ``--METRICS_NAMESPACE``.
- Dimensions: only ``service`` (which component emitted the value: ``DIMENSION_VALUES``); never a file name, a
  key, a manifest id or a date, so the number of time series stays fixed whatever the data.
- The Lambdas write EMF (Embedded Metric Format) lines to their log, CloudWatch turns them into metrics: no
  PutMetricData call on the hot path. The Glue job prints one EMF line per run (``glue_emf_line``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NAMESPACE_ENV = "METRICS_NAMESPACE"
NAMESPACE_SUFFIX = "pipeline"
SERVICE_DIMENSION = "service"
LAMBDA_SERVICE = "manifest-builder"
GLUE_SERVICE = "ndjson-to-parquet"
DIMENSION_VALUES = {SERVICE_DIMENSION: (LAMBDA_SERVICE, GLUE_SERVICE)}


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    service: str
    description: str


# -- manifest builder / status updater (EMF through aws-lambda-powertools) -------------------------------------
FILES_TRACKED = Metric("FilesTracked", "Count", LAMBDA_SERVICE, "new files tracked (first notification)")
DUPLICATE_EVENTS = Metric(
    "DuplicateEventsIgnored", "Count", LAMBDA_SERVICE, "notifications of a file already tracked"
)
MANIFESTS_STARTED = Metric("ManifestsStarted", "Count", LAMBDA_SERVICE, "executions started (one per batch)")
FILES_MANIFESTED = Metric("FilesManifested", "Count", LAMBDA_SERVICE, "files in the batches started")
START_ROLLBACKS = Metric(
    "StartFailuresRolledBack", "Count", LAMBDA_SERVICE, "batches whose start failed, files back to pending"
)
CLAIMS_REPAIRED = Metric("ClaimsRepaired", "Count", LAMBDA_SERVICE, "intent records repaired by the flush")
MANIFESTS_COMPLETED = Metric("ManifestsCompleted", "Count", LAMBDA_SERVICE, "batches recorded completed")
MANIFESTS_FAILED = Metric("ManifestsFailed", "Count", LAMBDA_SERVICE, "batches recorded failed")
FILES_CONVERTED = Metric("FilesConverted", "Count", LAMBDA_SERVICE, "files of the batches recorded completed")
FRESHNESS = Metric(
    "OldestPendingAgeSeconds",
    "Seconds",
    LAMBDA_SERVICE,
    "every flush: age of the oldest landed line not yet queryable (the oldest pending file, or the oldest file of"
    " a batch started and not completed; 0 when there is none)",
)

# -- Glue job: one EMF line per run ----------------------------------------------------------------------------
RECORDS_IN = Metric("RecordsIn", "Count", GLUE_SERVICE, "non-blank lines read")
ROWS_OUT = Metric("RowsOut", "Count", GLUE_SERVICE, "rows written to the table")
QUARANTINED = Metric("RecordsQuarantined", "Count", GLUE_SERVICE, "lines quarantined, all reasons")
BYTES_IN = Metric("BytesIn", "Bytes", GLUE_SERVICE, "input bytes read")
BYTES_OUT = Metric("BytesOut", "Bytes", GLUE_SERVICE, "Parquet bytes written")
RUN_SECONDS = Metric("RunSeconds", "Seconds", GLUE_SERVICE, "job run duration (the driver's clock)")
COMMIT_RETRIES = Metric("CommitRetries", "Count", GLUE_SERVICE, "Iceberg commit attempts beyond the first")

# Quarantine reason (the part before ':' of a bad line's reason, docs/glue-job.md#bad-records) -> class.
REASON_CLASSES = {
    "invalid_utf8": "Syntax",
    "invalid_json": "Syntax",
    "not_a_json_object": "Syntax",
    "nesting_too_deep": "Shape",
    "unconvertible": "Shape",
    "case_collision": "Shape",
    "reserved_field": "Shape",
    "type_conflict": "Type",
    "schema_contract": "Type",
}
OTHER_REASON_CLASS = "Other"
QUARANTINED_BY_CLASS = {
    cls: Metric(
        f"RecordsQuarantined{cls}", "Count", GLUE_SERVICE, f"lines quarantined, {cls.lower()} reasons"
    )
    for cls in ("Syntax", "Shape", "Type", OTHER_REASON_CLASS)
}

LAMBDA_METRICS = (
    FILES_TRACKED,
    DUPLICATE_EVENTS,
    MANIFESTS_STARTED,
    FILES_MANIFESTED,
    START_ROLLBACKS,
    CLAIMS_REPAIRED,
    MANIFESTS_COMPLETED,
    MANIFESTS_FAILED,
    FILES_CONVERTED,
    FRESHNESS,
)
GLUE_METRICS = (
    RECORDS_IN,
    ROWS_OUT,
    QUARANTINED,
    *QUARANTINED_BY_CLASS.values(),
    BYTES_IN,
    BYTES_OUT,
    RUN_SECONDS,
    COMMIT_RETRIES,
)
ALL_METRICS = (*LAMBDA_METRICS, *GLUE_METRICS)
BY_NAME = {m.name: m for m in ALL_METRICS}


def namespace_for(name_prefix: str) -> str:
    """The stack's namespace (one per stack: the Terraform ``name_prefix``)."""
    return f"{name_prefix}/{NAMESPACE_SUFFIX}"


def reason_class(reason: str) -> str:
    return REASON_CLASSES.get(reason.split(":", 1)[0].strip(), OTHER_REASON_CLASS)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def glue_values(report: dict[str, Any]) -> dict[str, float]:
    """The per-run values of a Glue job report (docs/glue-job.md lists its fields)."""
    by_class = dict.fromkeys(QUARANTINED_BY_CLASS, 0)
    reasons = report.get("bad_records_by_reason")
    for reason, count in reasons.items() if isinstance(reasons, dict) else ():
        by_class[reason_class(str(reason))] += _count(count)
    seconds = report.get("seconds")
    attempts = _count(report.get("commit_attempts"))
    values: dict[str, float] = {
        RECORDS_IN.name: _count(report.get("records_in")),
        ROWS_OUT.name: _count(report.get("records_out")),
        QUARANTINED.name: _count(report.get("bad_records")),
        BYTES_IN.name: _count(report.get("bytes_in")),
        BYTES_OUT.name: _count(report.get("bytes_out")),
        RUN_SECONDS.name: float(seconds) if isinstance(seconds, (int, float)) and seconds >= 0 else 0.0,
        COMMIT_RETRIES.name: max(0, attempts - 1),
    }
    values.update({QUARANTINED_BY_CLASS[cls].name: n for cls, n in by_class.items()})
    return values


def emf_document(namespace: str, service: str, values: dict[str, float], timestamp_ms: int) -> dict[str, Any]:
    """One EMF document: ``values`` (metric name -> value) with the ``service`` dimension."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[SERVICE_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": BY_NAME[name].unit} for name in values],
                }
            ],
        },
        SERVICE_DIMENSION: service,
        **values,
    }


def glue_emf_line(namespace: str, report: dict[str, Any], timestamp_ms: int) -> str:
    """The Glue job's one EMF line per run (its stdout is its CloudWatch log)."""
    document = emf_document(namespace, GLUE_SERVICE, glue_values(report), timestamp_ms)
    return json.dumps(document, separators=(",", ":"))


def parse_emf(line: str) -> list[dict[str, Any]]:
    """The datapoints of one EMF line: [{namespace, name, unit, value(s), dimensions, timestamp_ms}];
    [] for a line that is not EMF. Used by the embedded AWS, which has no log-to-metric extraction."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    meta = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        return []
    points: list[dict[str, Any]] = []
    for directive in meta.get("CloudWatchMetrics") or []:
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name")
            raw = document.get(name)
            values = raw if isinstance(raw, list) else [raw]
            values = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not values:
                continue
            for keys in dimension_sets:
                points.append(
                    {
                        "namespace": directive.get("Namespace"),
                        "name": name,
                        "unit": metric.get("Unit") or "None",
                        "values": values,
                        "dimensions": {k: str(document.get(k)) for k in keys},
                        "timestamp_ms": int(meta.get("Timestamp") or 0),
                    }
                )
    return points
