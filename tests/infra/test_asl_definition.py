"""The ASL template: rendering (the templatefile subset), statelint, and the flow the issue prescribes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from statelint.linter import Linter

from pipeline.build import asl

REPO = Path(__file__).resolve().parents[2]

SAMPLE_VALUES: dict[str, asl.TemplateValue] = {
    "partition": "aws",
    "tracking_table_name": "p-tracking",
    "glue_job_name": "p-ndjson-to-parquet",
    "output_path": "s3://p-output/lake/events/",
    "bad_records_path": "s3://p-output/quarantine/events/",
    "compression_type": "zstd",
    "report_bucket": "p-output",
    "report_key_prefix": "lake/events/_reports/",
    "status_updater_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:p-status-updater",
    "alert_topic_arn": "arn:aws:sns:us-east-1:123456789012:p-alerts",
    "execution_timeout_seconds": 10800,
    "glue_task_timeout_seconds": 4200,
    "glue_retry_interval_seconds": 60,
    "glue_retry_max_attempts": 6,
    "glue_retry_max_delay_seconds": 900,
    "retry_interval_seconds": 2,
}


def _definitions() -> list[Path]:
    return sorted((REPO / "state_machines").glob("*.asl.json"))


@pytest.fixture(scope="module")
def definition() -> dict:
    return asl.load_definition(asl.NDJSON_TO_PARQUET, SAMPLE_VALUES)


def _terraform_template_keys() -> set[str]:
    """The keys the orchestration module passes to templatefile()."""
    text = (REPO / "terraform" / "modules" / "orchestration" / "main.tf").read_text()
    block = text[text.index("templatefile(") : text.index("})", text.index("templatefile("))]
    return set(re.findall(r"^\s*([a-z_]+)\s*=", block, flags=re.MULTILINE))


@pytest.mark.parametrize("path", _definitions(), ids=lambda p: p.name)
def test_every_definition_renders_and_passes_statelint(path: Path) -> None:
    template = path.read_text()
    values = {name: SAMPLE_VALUES.get(name, 1) for name in asl.placeholders(template)}
    problems = Linter.validate(asl.load_definition(path, values))
    assert problems == []


def test_terraform_fills_exactly_the_placeholders_of_the_template() -> None:
    assert asl.placeholders(asl.NDJSON_TO_PARQUET.read_text()) == _terraform_template_keys()


def test_the_template_names_no_partition_of_its_own() -> None:
    """Service integrations are arn:<partition>:states:::..., the deployment's partition (aws-cn, aws-us-gov, ...)."""
    assert "arn:aws:" not in asl.NDJSON_TO_PARQUET.read_text()


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_every_task_resource_is_in_the_partition_of_the_deployment(partition: str) -> None:
    values = {
        **SAMPLE_VALUES,
        "partition": partition,
        "status_updater_function_arn": f"arn:{partition}:lambda:cn-north-1:123456789012:function:p-status-updater",
        "alert_topic_arn": f"arn:{partition}:sns:cn-north-1:123456789012:p-alerts",
    }
    definition = asl.load_definition(asl.NDJSON_TO_PARQUET, values)
    resources = {state["Resource"] for state in definition["States"].values() if state["Type"] == "Task"}
    assert len(resources) >= 5
    assert all(r.startswith(f"arn:{partition}:states:::") for r in resources), resources
    assert "arn:aws:" not in json.dumps(definition) or partition == "aws"
    assert Linter.validate(definition) == []


def test_the_template_is_jsonpath_only() -> None:
    text = asl.NDJSON_TO_PARQUET.read_text()
    assert "JSONata" not in text
    assert '"Assign"' not in text
    assert "{%" not in text


def test_render_names_every_missing_placeholder() -> None:
    values = dict(SAMPLE_VALUES)
    del values["glue_job_name"]
    del values["alert_topic_arn"]
    with pytest.raises(asl.AslTemplateError, match=r"alert_topic_arn, glue_job_name"):
        asl.render_file(asl.NDJSON_TO_PARQUET, values)


def test_render_follows_terraform_template_syntax() -> None:
    template = (
        '{"a": "${name}", "n": ${count}, "b": ${flag}, "literal": "$${not_a_placeholder}", "pct": "%%{x}"}'
    )
    rendered = asl.render(template, {"name": "x", "count": 3, "flag": True})
    assert json.loads(rendered) == {
        "a": "x",
        "n": 3,
        "b": True,
        "literal": "${not_a_placeholder}",
        "pct": "%{x}",
    }


@pytest.mark.parametrize(
    "template", ['{"a": "${var.x}"}', '{"a": "%{ if true }x%{ endif }"}', '{"a": "${f(1)}"}']
)
def test_render_rejects_terraform_only_syntax(template: str) -> None:
    with pytest.raises(asl.AslTemplateError, match="not"):
        asl.render(template, {"x": 1})


def test_rendering_to_invalid_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.asl.json"
    path.write_text('{"a": "${v}"}')
    with pytest.raises(asl.AslTemplateError, match=r"bad.asl.json rendered to invalid JSON"):
        asl.load_definition(path, {"v": 'quote " inside'})


def test_flow_marks_processing_then_runs_glue_then_reads_report_then_completes(definition: dict) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "MarkProcessing"
    mark = states["MarkProcessing"]
    assert mark["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert (
        mark["Parameters"]["ConditionExpression"]
        == "attribute_not_exists(#status) OR #status IN (:pending, :processing)"
    )
    assert mark["Next"] == "RunGlueJob"
    glue = states["RunGlueJob"]
    assert glue["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert glue["TimeoutSeconds"] == 4200
    arguments = glue["Parameters"]["Arguments"]
    assert arguments == {
        "--MANIFEST_PATH.$": "$.manifest_path",
        "--MANIFEST_ID.$": "$.manifest_id",
        "--OUTPUT_PATH": "s3://p-output/lake/events/",
        "--BAD_RECORDS_PATH": "s3://p-output/quarantine/events/",
        "--COMPRESSION_TYPE": "zstd",
    }
    assert glue["Next"] == "ReadJobReport"
    assert states["ReadJobReport"]["Next"] == "MarkCompleted"
    complete = states["MarkCompleted"]
    assert complete["Resource"] == "arn:aws:states:::lambda:invoke"
    assert complete["Parameters"]["Payload"]["status"] == "completed"
    assert complete["Parameters"]["Payload"]["action"] == "complete"
    assert complete["Next"] == "Converted"
    assert states["Converted"]["Type"] == "Succeed"


def test_glue_retries_the_transient_errors_with_backoff(definition: dict) -> None:
    retry = definition["States"]["RunGlueJob"]["Retry"]
    assert len(retry) == 1
    assert {
        "Glue.ConcurrentRunsExceededException",
        "Glue.ThrottlingException",
        "Glue.InternalServiceException",
    } <= set(retry[0]["ErrorEquals"])
    assert retry[0]["BackoffRate"] > 1
    assert (
        "States.TaskFailed" not in retry[0]["ErrorEquals"]
    )  # a failed job run is data, not a transient error


def test_lambda_tasks_retry_lambdas_transient_errors_and_lagging_index(definition: dict) -> None:
    for name in ("MarkCompleted", "MarkFailed"):
        retry = definition["States"][name]["Retry"]
        errors = set(retry[0]["ErrorEquals"])
        assert {
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        } <= errors
        assert retry[1]["ErrorEquals"] == ["ManifestFilesNotVisible"]  # docs/tracking-table.md, step 7


def test_every_failure_is_caught_into_the_failed_status_alert_and_a_stable_fail(definition: dict) -> None:
    states = definition["States"]
    for name in ("MarkProcessing", "RunGlueJob", "ReadJobReport"):
        catch_all = [c for c in states[name]["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert catch_all == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}]
    failed = states["MarkFailed"]
    assert failed["Parameters"]["Payload"]["status"] == "failed"
    assert failed["Parameters"]["Payload"]["error.$"] == "$.error.Error"
    assert failed["Parameters"]["Payload"]["cause.$"] == "$.error.Cause"
    assert failed["Next"] == failed["Catch"][0]["Next"] == "AlertBatchFailed"
    alert = states["AlertBatchFailed"]
    assert alert["Resource"] == "arn:aws:states:::sns:publish"
    for reference in ("$.manifest_id", "$.date_prefix", "$.error.Error"):
        assert reference in alert["Parameters"]["Message.$"]
    assert alert["Next"] == "BatchFailed"
    fails = {name: state for name, state in states.items() if state["Type"] == "Fail"}
    assert {state["Error"] for state in fails.values()} == {
        "Pipeline.BatchFailed",
        "Pipeline.StatusUpdateFailed",
        "Pipeline.ManifestNotRunnable",
    }
    assert all(state.get("Cause") for state in fails.values())
    assert states["MarkCompleted"]["Catch"][0]["Next"] == "AlertStatusUpdateFailed"
    assert states["AlertStatusUpdateFailed"]["Next"] == "StatusUpdateFailed"


def test_every_task_has_a_catch_so_no_execution_ends_without_an_alert_or_a_stable_error(
    definition: dict,
) -> None:
    for name, state in definition["States"].items():
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name
