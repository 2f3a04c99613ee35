"""One source of truth for the metric names: the dashboard Terraform deploys, the alarms and the code that emits.

The checked-in dashboard template is what `python -m pipeline.build.dashboard` generates from
pipeline/contracts/metrics.py; rendered as Terraform renders it, it is valid JSON whose every metric of the
stack's namespace is one the code emits (the control plane's `metrics.add/gauge(m.X)` calls, the Glue job's
per-run line), and every emitted metric is on it. The alarms on our namespace name emitted metrics too."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from pipeline.build import asl
from pipeline.build.dashboard import TEMPLATE, dashboard_template, shown_metrics
from pipeline.contracts import metrics as m

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "demo/pipeline"
MONITORING = REPO / "terraform" / "modules" / "monitoring" / "main.tf"


def _metric_constants(node: ast.expr) -> list[str]:
    if isinstance(node, ast.IfExp):  # add(m.A if x else m.B)
        return _metric_constants(node.body) + _metric_constants(node.orelse)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "m":
        return [node.attr]
    return []


def _emitted_by_the_control_plane() -> set[str]:
    names = set()
    for path in (REPO / "pipeline" / "control_plane").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("add", "gauge")
                and node.args
            ):
                names.update(getattr(m, const).name for const in _metric_constants(node.args[0]))
    return names


def emitted() -> set[str]:
    return _emitted_by_the_control_plane() | set(m.glue_values({}))


def rendered() -> dict:
    dlq = json.dumps(
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "demo-dlq", {"stat": "Maximum"}]
    )
    text = asl.render(
        TEMPLATE.read_text(),
        {
            "namespace": NAMESPACE,
            "region": "eu-west-1",
            "ingest_queue_name": "demo-ingest",
            "objective_seconds": 900,
            "glue_dpus": 2,
            "dlq_metrics": dlq,
        },
    )
    return json.loads(text)


def test_the_checked_in_template_is_the_generated_one():
    assert TEMPLATE.read_text() == dashboard_template(), "run: python -m pipeline.build.dashboard"


def test_the_dashboard_shows_exactly_the_metrics_the_code_emits():
    body = rendered()
    ours = {name for namespace, name in shown_metrics(body) if namespace == NAMESPACE}
    assert ours == emitted() == {x.name for x in m.ALL_METRICS}
    others = {(ns, name) for ns, name in shown_metrics(body) if ns != NAMESPACE}
    assert others == {("AWS/SQS", "NumberOfMessagesSent"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible")}
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles[0].startswith("Flow: landed -> tracked -> manifested -> converted")
    freshness = next(w for w in body["widgets"] if w["properties"]["title"].startswith("Freshness"))
    assert freshness["properties"]["annotations"]["horizontal"][0]["value"] == 900
    glue = next(w for w in body["widgets"] if "DPU-seconds" in w["properties"]["title"])
    assert glue["properties"]["metrics"][0][0]["expression"] == "dur * 2"


def test_the_alarms_on_our_namespace_name_emitted_metrics():
    text = MONITORING.read_text()
    named = set(re.findall(r'metric_name\s*=\s*"([A-Za-z]+)"', text))
    assert {"OldestPendingAgeSeconds", "RecordsQuarantined", "RecordsIn"} <= named
    assert named <= emitted()
