"""The CloudWatch dashboard's body, generated from the metric names the code emits (``pipeline.contracts.metrics``).

``python -m pipeline.build.dashboard`` writes ``terraform/modules/monitoring/dashboard.json.tftpl``, which
Terraform renders with ``templatefile`` (the stack's namespace, region, queue and job names, the objective, the
job's DPUs, the dead-letter queues' metrics); ``tests/infra/test_dashboard.py`` checks that the checked-in file is
what this module generates and that every metric it shows is one the code emits (or an AWS one). Rows:

1. flow: files landed (ingest queue messages) -> tracked -> manifested -> converted; records in / rows out;
2. freshness: the age of the oldest line not yet queryable against the objective; batches started, completed, failed;
3. quarantine: the bad-record ratio per hour (metric math), quarantined lines by reason class;
4. Glue runs: duration (average, maximum), DPU-seconds (duration x DPUs, the cost proxy), bytes, commit retries;
5. dead-letter queue depths, rolled-back starts and repaired claims.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pipeline.contracts import metrics as m

TEMPLATE = (
    Path(__file__).resolve().parents[2] / "terraform" / "modules" / "monitoring" / "dashboard.json.tftpl"
)
# Placeholders: strings are quoted in the template, the others are JSON values Terraform puts in verbatim.
STRING_PLACEHOLDERS = ("namespace", "region", "ingest_queue_name")
VALUE_PLACEHOLDERS = ("objective_seconds", "glue_dpus", "dlq_metrics")
_RAW = "@@raw:"
PERIOD = 300
HOUR = 3600


def _ours(metric: m.Metric, stat: str, **options: Any) -> list[Any]:
    return ["${namespace}", metric.name, m.SERVICE_DIMENSION, metric.service, {"stat": stat, **options}]


def _widget(title: str, metrics: list[Any], x: int, y: int, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${region}",
            "view": "timeSeries",
            "period": properties.pop("period", PERIOD),
            "metrics": metrics,
            **properties,
        },
    }


def dashboard_body() -> dict[str, Any]:
    q = {c: _ours(metric, "Sum", id=f"q{c.lower()}", label=c) for c, metric in m.QUARANTINED_BY_CLASS.items()}
    widgets = [
        _widget(
            "Flow: landed -> tracked -> manifested -> converted (files per 5 min)",
            [
                [
                    "AWS/SQS",
                    "NumberOfMessagesSent",
                    "QueueName",
                    "${ingest_queue_name}",
                    {"stat": "Sum", "label": "landed (notifications)"},
                ],
                _ours(m.FILES_TRACKED, "Sum", label="tracked"),
                _ours(m.DUPLICATE_EVENTS, "Sum", label="duplicate notifications"),
                _ours(m.FILES_MANIFESTED, "Sum", label="manifested"),
                _ours(m.FILES_CONVERTED, "Sum", label="converted"),
            ],
            0,
            0,
        ),
        _widget(
            "Records in -> rows out (per 5 min)",
            [_ours(m.RECORDS_IN, "Sum", label="records in"), _ours(m.ROWS_OUT, "Sum", label="rows out")],
            12,
            0,
        ),
        _widget(
            "Freshness: oldest line not yet queryable (s) vs the objective",
            [_ours(m.FRESHNESS, "Maximum", label="oldest line not yet queryable")],
            0,
            6,
            annotations={"horizontal": [{"label": "objective", "value": f"{_RAW}objective_seconds"}]},
            yAxis={"left": {"min": 0}},
        ),
        _widget(
            "Batches: started, completed, failed",
            [
                _ours(m.MANIFESTS_STARTED, "Sum", label="started"),
                _ours(m.MANIFESTS_COMPLETED, "Sum", label="completed"),
                _ours(m.MANIFESTS_FAILED, "Sum", label="failed"),
            ],
            12,
            6,
        ),
        _widget(
            "Quarantine ratio per hour (quarantined / records in)",
            [
                [{"expression": "IF(rin > 0, bad / rin, 0)", "label": "bad-record ratio", "id": "ratio"}],
                _ours(m.QUARANTINED, "Sum", id="bad", visible=False),
                _ours(m.RECORDS_IN, "Sum", id="rin", visible=False),
            ],
            0,
            12,
            period=HOUR,
            yAxis={"left": {"min": 0}},
        ),
        _widget(
            "Quarantined lines by reason class (per hour)",
            list(q.values()),
            12,
            12,
            period=HOUR,
            stacked=True,
        ),
        _widget(
            "Glue runs: duration (s) and DPU-seconds (the cost proxy)",
            [
                [{"expression": f"dur * {_RAW}glue_dpus", "label": "DPU-seconds", "id": "dpus"}],
                _ours(m.RUN_SECONDS, "Sum", id="dur", label="run seconds (sum)"),
                _ours(m.RUN_SECONDS, "Maximum", label="longest run"),
                _ours(m.RUN_SECONDS, "Average", label="average run"),
            ],
            0,
            18,
        ),
        _widget(
            "Glue runs: bytes in / out, commit retries",
            [
                _ours(m.BYTES_IN, "Sum", label="bytes in"),
                _ours(m.BYTES_OUT, "Sum", label="bytes out"),
                _ours(m.COMMIT_RETRIES, "Sum", label="commit retries", yAxis="right"),
            ],
            12,
            18,
        ),
        _widget("Dead-letter queue depths", [f"{_RAW}dlq_metrics"], 0, 24),
        _widget(
            "Repairs: rolled-back starts, repaired claims",
            [
                _ours(m.START_ROLLBACKS, "Sum", label="start failures rolled back"),
                _ours(m.CLAIMS_REPAIRED, "Sum", label="claims repaired"),
            ],
            12,
            24,
        ),
    ]
    return {"widgets": widgets}


def dashboard_template() -> str:
    text = json.dumps(dashboard_body(), indent=2) + "\n"
    for name in VALUE_PLACEHOLDERS:  # "@@raw:x" (a JSON string) -> ${x} (a JSON value Terraform renders)
        text = text.replace(f'"{_RAW}{name}"', "${" + name + "}").replace(f"{_RAW}{name}", "${" + name + "}")
    return text


def write_template(path: Path = TEMPLATE) -> Path:
    path.write_text(dashboard_template(), encoding="utf-8")
    return path


def shown_metrics(body: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric name) of every metric a rendered body shows (expressions left out)."""
    shown: set[tuple[str, str]] = set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            if row and isinstance(row[0], str):
                shown.add((row[0], row[1]))
    return shown


if __name__ == "__main__":
    print(write_template(Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE))
