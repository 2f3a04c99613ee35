"""Stack names from Terraform outputs and flags (pure: no AWS)."""

from __future__ import annotations

import json

import pytest

from pipeline.ops.errors import StackNameMissing, StackOutputsInvalid
from pipeline.ops.stack_names import parse_outputs, resolve

TERRAFORM_OUTPUTS = {  # the shape and the names terraform/outputs.tf produces
    "region": {"value": "eu-west-1", "type": "string", "sensitive": False},
    "tracking_table_name": {"value": "ndjson-pipeline-tracking", "type": "string", "sensitive": False},
    "ingest_queue_url": {"value": "https://sqs.eu-west-1.amazonaws.com/1/ingest", "type": "string"},
    "ingest_dlq_url": {"value": "https://sqs.eu-west-1.amazonaws.com/1/ingest-dlq", "type": "string"},
    "state_machine_arn": {"value": "arn:aws:states:eu-west-1:1:stateMachine:sm", "type": "string"},
    "input_bucket": {"value": "in-bucket", "type": "string"},
    "manifest_bucket": {"value": "manifest-bucket", "type": "string"},
    "manifest_prefix": {"value": "manifests", "type": "string"},
    "output_path": {"value": "s3://out/events/", "type": "string"},
    "bad_records_path": {"value": "s3://out/quarantine/", "type": "string"},
    "glue_database_name": {"value": "lake", "type": "string"},
    "table_name": {"value": "events", "type": "string"},
    "manifest_builder_function_name": {"value": "builder", "type": "string"},
    "alarm_names": {"value": ["a", "b"], "type": ["list", "string"]},
}


def test_terraform_outputs_map_to_stack_names(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(TERRAFORM_OUTPUTS))
    names = resolve(path)
    assert names.region == "eu-west-1" and names.tracking_table == "ndjson-pipeline-tracking"
    assert names.dlq_url.endswith("ingest-dlq") and names.input_bucket == "in-bucket"
    assert names.manifest_prefix == "manifests/" and names.glue_table == "events"
    assert names.glue_database == "lake" and names.function_name == "builder"
    # Flags win; empty flags do not erase outputs.
    override = resolve(path, tracking_table="other", dlq_url=None)
    assert override.tracking_table == "other" and override.dlq_url.endswith("ingest-dlq")


def test_plain_objects_and_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"tracking_table": "t", "pending_shards": "8"}))
    monkeypatch.setenv("PIPELINE_STACK_OUTPUTS", str(path))
    names = resolve()
    assert names.tracking_table == "t" and names.pending_shards == 8
    assert parse_outputs({"unrelated": 1}) == {}


def test_missing_names_say_which_flag_or_output_supplies_them():
    with pytest.raises(StackNameMissing) as caught:
        resolve(region="us-east-1").require("tracking_table", "dlq_url")
    message = caught.value.message
    assert "--table" in message and "tracking_table_name" in message and "--dlq-url" in message
    assert caught.value.error_name == "StackNameMissing"


@pytest.mark.parametrize(("content", "what"), [("{not json", "not JSON"), ("[1, 2]", "JSON object")])
def test_bad_outputs_files_are_named(tmp_path, content, what):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(StackOutputsInvalid, match=what):
        resolve(path)
    with pytest.raises(StackOutputsInvalid, match="Cannot read"):
        resolve(tmp_path / "missing.json")
    with pytest.raises(StackOutputsInvalid, match="whole number"):
        resolve(None, pending_shards="many")


def test_the_cli_names_what_is_missing(monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli.ops import ops_app

    monkeypatch.delenv("PIPELINE_STACK_OUTPUTS", raising=False)
    result = CliRunner().invoke(ops_app, ["status", "--region", "us-east-1", "--executions", "0"])
    assert result.exit_code == 1
    assert "error[StackNameMissing]" in result.stderr and "--table" in result.stderr
    usage = CliRunner().invoke(ops_app, ["retry", "--region", "us-east-1"])
    assert usage.exit_code == 2  # neither a manifest id nor --failed
