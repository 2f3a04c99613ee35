"""`pipeline trace s3://bucket/key` (pipeline/ops/trace.py, pipeline/cli/trace.py) on the ops harness's mini stack
with the Iceberg table format: the real handler tracks and batches the files, the real ASL runs the real job on
local Spark, which commits to an Iceberg table in the embedded Glue catalog. Two batches (three Glue runs in all,
about 10 s): one completed with a known bad line in one of its files, one failed over the bad-record ratio.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from reliability.checks import staged_to_s3
from typer.testing import CliRunner

from glue_jobs.ndjson_to_parquet.iceberg import SUMMARY_MANIFEST
from pipeline.cli.app import app
from pipeline.ops.errors import InvalidDate
from pipeline.ops.trace import (
    FileNotTracked,
    InvalidS3Url,
    TraceRequest,
    UnknownFile,
    VersionNotTracked,
    candidate_dates,
    trace,
)

from .harness import BAD_PATH, INPUT, MiniStack, ndjson

pytestmark = pytest.mark.spark
DONE, FAILED = "2026-09-10", "2026-09-11"
GOOD, BAD, BROKEN = f"raw/{DONE}/good.ndjson", f"raw/{DONE}/bad.ndjson", f"raw/{FAILED}/broken.ndjson"


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("ops-trace"))
    mini.start(spark, {"TABLE_FORMAT": "iceberg"}, table_format="iceberg")
    # One batch of two files, one bad line of 51 (under the 5 % ratio): completed, the line quarantined.
    mini.drop(GOOD, ndjson(DONE, "good", 30))
    mini.drop(BAD, ndjson(DONE, "bad", 20, bad_lines=1))
    mini.deliver()
    mini.flush()
    mini.wait_manifests_final(DONE, 1)
    # One file with 2 bad lines of 7: over the ratio, the batch fails and nothing of it is published.
    mini.drop(BROKEN, ndjson(FAILED, "broken", 5, bad_lines=2))
    mini.deliver()
    mini.flush()
    mini.wait_manifests_final(FAILED, 1)
    mini.wait_executions_done()
    yield mini
    mini.stop()


def _trace(stack: MiniStack, key: str, **extra: Any) -> dict[str, Any]:
    # The harness runs the job in the Glue runner's staged mode: `_source_file` names local copies, mapped back
    # to the s3:// URL as the invariant checker does (on AWS and `pipeline up` the mapping is the identity).
    request = TraceRequest.of(f"s3://{INPUT}/{key}", **extra)
    return trace(stack.ctx(), request, source_url=staged_to_s3).as_dict()


def test_a_file_with_a_bad_line_shows_that_line_with_its_reason(stack):
    document = _trace(stack, BAD)
    [journey] = document["items"]
    quarantine = journey["output"]["quarantine"]
    assert quarantine["lines"] == 1 and quarantine["by_reason"] == {"invalid_json": 1}
    [sample] = quarantine["samples"]
    assert sample["raw_line"] == "{not json" and sample["reason"].startswith("invalid_json")
    assert sample["offset"] > 0 and sample["quarantine_file"].startswith(f"{BAD_PATH}dt=2026-09-10/")
    assert journey["output"]["rows_written"] == 20  # that file's rows only, not the batch's 50
    # The batch's other file has no bad line: the quarantine records are told apart by source file.
    other = _trace(stack, GOOD)["items"][0]["output"]
    assert other["quarantine"]["lines"] == 0 and other["rows_written"] == 30


def test_a_completed_file_shows_manifest_execution_glue_run_and_snapshot(stack):
    document = _trace(stack, GOOD)
    assert document["trace_version"] == 1 and document["date"] == DONE
    assert document["object"]["exists"] and document["object"]["size"] > 0 and document["object"]["etag"]
    [journey] = document["items"]
    assert journey["status"] == "completed" and journey["current"] is True
    manifest = journey["manifest"]
    assert manifest["status"] == "completed" and manifest["file_count"] == 2
    assert manifest["object"] == {
        "exists": True,
        "bytes": manifest["object"]["bytes"],
        "readable": True,
        "entries": 2,
        "lists_file": True,
    }
    assert manifest["counts"]["records_out"] == 50 and manifest["counts"]["bad_records"] == 1
    execution = journey["execution"]
    assert execution["status"] == "SUCCEEDED" and execution["name"] == manifest["manifest_id"]
    names = [s["name"] for s in execution["states"]]
    assert names[:2] == ["MarkProcessing", "RunGlueJob"] and "MarkFailed" not in names
    assert all(s["status"] == "succeeded" and s["seconds"] is not None for s in execution["states"])
    run = journey["glue_run"]
    assert (
        run["state"] == "SUCCEEDED"
        and run["run_id"].startswith("jr_")
        and run["job_name"] == "ops-ndjson-to-parquet"
    )
    snapshot = journey["snapshot"]
    assert snapshot["manifest_id"] == manifest["manifest_id"] and snapshot["in_current_table"] is True
    assert snapshot["snapshot_id"] == manifest["counts"]["snapshot_id"] and snapshot["added_rows"] == 50
    table = stack_table(stack)
    assert (
        table.snapshot_by_id(snapshot["snapshot_id"]).summary.additional_properties[SUMMARY_MANIFEST]
        == (manifest["manifest_id"])
    )
    events = [step["event"] for step in journey["timeline"]]
    assert events[0] == "tracked" and events.index("claimed") < events.index("glue run started")
    assert events.index("glue run ended") < events.index("file completed")


def stack_table(stack: MiniStack) -> Any:
    from pipeline.ops.lake_table import open_stack_table

    ctx = stack.ctx(table_format="iceberg")
    return open_stack_table(ctx, "trace")


def test_a_failed_batch_shows_the_failed_state_and_the_glue_error(stack):
    [journey] = _trace(stack, BROKEN)["items"]
    assert journey["status"] == "failed" and journey["manifest"]["job_error"] == "BadRecordRatioExceeded"
    execution = journey["execution"]
    assert execution["status"] == "FAILED" and execution["error"] == "Pipeline.BatchFailed"
    [glue_state] = [s for s in execution["states"] if s["name"] == "RunGlueJob"]
    assert glue_state["status"] == "failed" and glue_state["error"] == "States.TaskFailed"
    assert "MarkFailed" in [s["name"] for s in execution["states"]]
    assert journey["glue_run"]["state"] == "FAILED"
    assert journey["glue_run"]["error"].startswith("BadRecordRatioExceeded")
    output = journey["output"]
    assert (
        output["rows_written"] == 0 and output["quarantine"]["lines"] == 2
    )  # published even when the run fails
    assert journey["snapshot"] is None


def test_the_cli_json_parses_and_date_key_finds_the_same_item(stack):
    outputs = str(stack.outputs_file())
    base = ["--outputs", outputs, "--endpoint-url", stack.aws.endpoint_url]
    result = CliRunner(env=stack.operator_env()).invoke(
        app, ["trace", f"s3://{INPUT}/{BAD}", "--json", *base]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"trace_version", "url", "date", "object", "items"}
    [journey] = document["items"]
    assert set(journey) >= {"file_key", "status", "item", "timeline", "manifest", "execution", "glue_run"}
    assert set(journey) >= {"report", "output", "snapshot", "notes"}
    assert journey["output"]["quarantine"]["path"].startswith(f"{BAD_PATH}dt=2026-09-10/")
    assert journey["snapshot"]["manifest_id"] == journey["manifest"]["manifest_id"]
    by_key = CliRunner(env=stack.operator_env()).invoke(
        app, ["trace", "--date", DONE, "--key", journey["file_key"], "--json", *base]
    )
    assert by_key.exit_code == 0, by_key.output
    assert json.loads(by_key.stdout)["items"][0]["manifest"] == journey["manifest"]
    text = CliRunner(env=stack.operator_env()).invoke(app, ["trace", f"s3://{INPUT}/{BAD}", *base])
    assert text.exit_code == 0, text.output
    assert f"manifest {journey['manifest']['manifest_id']}: completed" in text.stdout
    assert "execution " in text.stdout and "RunGlueJob: succeeded" in text.stdout
    assert (
        f"snapshot {journey['snapshot']['snapshot_id']}" in text.stdout and "made it visible" in text.stdout
    )


def test_an_unknown_or_untracked_file_is_a_named_error(stack):
    with pytest.raises(UnknownFile) as unknown:
        _trace(stack, f"raw/{DONE}/never-landed.ndjson")
    assert unknown.value.fix and "--date" in unknown.value.fix
    stack.drop(f"elsewhere/{DONE}/x.ndjson", ndjson(DONE, "x", 2))  # outside the notification's raw/ prefix
    with pytest.raises(FileNotTracked) as untracked:
        _trace(stack, f"elsewhere/{DONE}/x.ndjson")
    assert f"pipeline backfill --bucket {INPUT} --prefix elsewhere/{DONE}/x.ndjson" in str(
        untracked.value.fix
    )
    base = ["--outputs", str(stack.outputs_file()), "--endpoint-url", stack.aws.endpoint_url]
    result = CliRunner(env=stack.operator_env()).invoke(
        app, ["trace", f"s3://{INPUT}/raw/{DONE}/never-landed.ndjson", *base]
    )
    assert result.exit_code == UnknownFile.exit_code == 1
    assert "error[UnknownFile]" in result.stderr and "fix:" in result.stderr
    bad_url = CliRunner(env=stack.operator_env()).invoke(app, ["trace", "not-a-url", *base])
    assert bad_url.exit_code == 2 and "error[InvalidS3Url]" in bad_url.stderr


def test_a_key_uploaded_twice_shows_both_contents_and_a_version_never_tracked_is_named(stack):
    key = f"raw/{DONE}/twice.ndjson"
    stack.drop(key, ndjson(DONE, "first", 3))
    stack.deliver()
    stack.drop(key, ndjson(DONE, "second", 4))
    stack.deliver()
    document = _trace(stack, key)
    first, second = document["items"]
    assert (first["current"], second["current"]) == (False, True)
    assert second["item"]["etag"] == document["object"]["etag"] != first["item"]["etag"]
    for journey in (
        first,
        second,
    ):  # tracked, not batched (no flush ran): nothing downstream, the note says so
        assert journey["status"] == "pending" and journey["manifest"] is None and journey["execution"] is None
        assert journey["notes"] == ["the file is pending: no manifest has claimed it yet"]
    with pytest.raises(VersionNotTracked):
        _trace(stack, key, version_id="3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")


def test_requests_and_the_dates_looked_in():
    request = TraceRequest.of("s3://in/partner/2026-11-22/a.ndjson", version_id="v1")
    assert (request.bucket, request.key, request.version_id) == ("in", "partner/2026-11-22/a.ndjson", "v1")
    assert TraceRequest.of(None, date=DONE, key="F#in/a#e").file_key == "F#in/a#e"
    assert TraceRequest.of(None, date=DONE, key="a.ndjson", bucket="in").bucket == "in"
    for url, extra in (("in/a", {}), ("s3://in/", {}), (None, {"key": "a.ndjson"}), (None, {"date": DONE})):
        with pytest.raises(InvalidS3Url) as refused:
            TraceRequest.of(url, **extra)
        assert refused.value.exit_code == 2 and refused.value.fix
    with pytest.raises(InvalidDate):
        TraceRequest.of("s3://in/a", date="2026-02-30")
    # A date folder decides; without one the upload day and its neighbours (the event time's day) are looked in.
    assert candidate_dates("x/dt=2026-11-22/a.ndjson", None, None) == ["2026-11-22"]
    assert candidate_dates("a.ndjson", "2026-11-22T23:59:59Z", None) == [
        "2026-11-22",
        "2026-11-21",
        "2026-11-23",
    ]
    assert candidate_dates("a.ndjson", None, None) == [] and candidate_dates("a", None, DONE) == [DONE]
