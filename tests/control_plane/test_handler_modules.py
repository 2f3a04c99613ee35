"""The handler files as the Lambda runtime loads them: configuration at cold start, JSON logs without event
contents."""

from __future__ import annotations

import json
import sys

import pytest

from pipeline.contracts.errors import InvalidConfiguration, InvalidEvent

from .conftest import MANIFEST_BUCKET, TABLE, LambdaContext, load_handler_module, s3_record, sqs_event


@pytest.fixture
def lambda_env(env, monkeypatch):
    for name, value in {
        "TRACKING_TABLE": TABLE,
        "MANIFEST_BUCKET": MANIFEST_BUCKET,
        "STATE_MACHINE_ARN": env.machine_arn,
        "MAX_FILES_PER_MANIFEST": "2",
        "LOG_LEVEL": "DEBUG",
    }.items():
        monkeypatch.setenv(name, value)
    return env


def load_logging_to_captured_stdout(name):
    module = load_handler_module(name)
    # powertools binds its stream once per process; point it at this test's captured stdout
    module.APP.logger.registered_handler.stream = sys.stdout
    return module


def test_manifest_builder_module_handles_sqs_and_logs_no_event_contents(lambda_env, capsys):
    module = load_logging_to_captured_stdout("manifest_builder")
    assert module.CONFIG.max_files_per_manifest == 2 and module.CONFIG.log_level == "DEBUG"
    records = [s3_record("raw/2026-11-20/a.ndjson"), s3_record("raw/2026-11-20/b.ndjson")]
    for record in records:
        record["userIdentity"] = {"principalId": "SECRET-PRINCIPAL-42"}
        record["requestParameters"] = {"sourceIPAddress": "203.0.113.99"}
    event = sqs_event(*records)
    assert module.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert len(lambda_env.executions()) == 1
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["message"] for line in lines].count("file tracked") == 2
    assert [line["message"] for line in lines].count("manifest started") == 1
    assert all(line["service"] == "manifest-builder" for line in lines)
    assert "SECRET-PRINCIPAL-42" not in out and "203.0.113.99" not in out
    assert '"Records"' not in out  # no event dump at DEBUG


def test_info_level_hides_debug_summaries(lambda_env, monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    module = load_logging_to_captured_stdout("manifest_builder")
    module.lambda_handler(sqs_event(s3_record("raw/2026-11-20/a.ndjson")), LambdaContext())
    messages = [
        json.loads(line)["message"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    assert "file tracked" in messages
    assert "sqs batch received" not in messages


def test_cold_start_names_bad_settings(lambda_env, monkeypatch):
    monkeypatch.setenv("MAX_FILES_PER_MANIFEST", "many")
    monkeypatch.delenv("TRACKING_TABLE")
    with pytest.raises(InvalidConfiguration) as caught:
        load_handler_module("manifest_builder")
    assert "MAX_FILES_PER_MANIFEST='many'" in str(caught.value)
    assert "TRACKING_TABLE is required" in str(caught.value)


def test_batch_status_updater_accepts_only_complete(lambda_env):
    module = load_handler_module("batch_status_updater")
    with pytest.raises(InvalidEvent):
        module.lambda_handler({"action": "flush"}, LambdaContext())
    builder = load_handler_module("manifest_builder")
    builder.lambda_handler(
        sqs_event(s3_record("raw/2026-11-20/a.ndjson"), s3_record("raw/2026-11-20/b.ndjson")), LambdaContext()
    )
    [manifest] = lambda_env.manifest_items("2026-11-20")
    result = module.lambda_handler(
        {
            "action": "complete",
            "manifest_id": manifest["manifest_id"],
            "date_prefix": "2026-11-20",
            "status": "completed",
        },
        LambdaContext(),
    )
    assert result["files"] == 2
