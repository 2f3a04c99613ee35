"""The state machine's status update: only the manifest's own files, idempotent, report counts stored."""

from __future__ import annotations

import json

import pytest

from pipeline.contracts.errors import InvalidEvent, JobReportNotReadable, ManifestAlreadyFinal
from pipeline.contracts.report import report_key
from pipeline.control_plane.bootstrap import handle_event

from .conftest import LambdaContext, s3_record, sqs_event

DAY = "2026-11-20"
REPORT = {
    "manifest_id": "x",
    "files": 3,
    "records_in": 30,
    "records_out": 28,
    "bad_records": 2,
    "bytes_in": 3000,
    "bytes_out": 900,
    "codec": "zstd",
    "output_files": ["a.parquet", "b.parquet"],
    "schema": {"fields": []},
    "seconds": 1.5,
}


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def two_manifests(env):
    app = env.app(max_files_per_manifest=3)
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(6)]))
    manifests = sorted(m["manifest_id"] for m in env.manifest_items(DAY))
    assert len(manifests) == 2
    return app, manifests


def count_calls(client):
    calls: list[tuple[str, dict]] = []

    def record(params, model, **_):
        calls.append((model.name, params))

    client.meta.events.register("before-parameter-build.dynamodb", record)
    return calls


def test_completed_touches_only_its_files_and_stores_the_report(env):
    app, (first, second) = two_manifests(env)
    calls = count_calls(app.service.table._client)
    result = invoke(
        app,
        {
            "action": "complete",
            "manifest_id": first,
            "date_prefix": DAY,
            "status": "completed",
            "report": REPORT,
        },
    )
    assert result == {"manifest_id": first, "status": "completed", "files": 3}
    by_manifest = {}
    for f in env.files_as_read(DAY):
        by_manifest.setdefault(f["manifest_id"], set()).add(f["status"])
    assert by_manifest == {first: {"completed"}, second: {"manifested"}}
    # completion by reference: the file items themselves are not written, they stay manifested under their id
    assert {f["status"] for f in env.files(DAY) if f["manifest_id"] == first} == {"manifested"}
    item = next(m for m in env.manifest_items(DAY) if m["manifest_id"] == first)
    assert item["status"] == "completed"
    assert (item["records_in"], item["records_out"], item["bad_records"]) == ("30", "28", "2")
    assert (item["bytes_in"], item["bytes_out"], item["output_files"]) == ("3000", "900", "2")
    # bounded: no scan, no query, and one write, the conditional one on the MANIFEST item
    operations = [name for name, _ in calls]
    assert "Scan" not in operations and "Query" not in operations
    writes = [
        (name, p)
        for name, p in calls
        if name in ("UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems")
    ]
    assert [(name, p["Key"]["file_key"]["S"]) for name, p in writes] == [("UpdateItem", f"MANIFEST#{first}")]
    assert "#status" in writes[0][1]["ConditionExpression"]


def test_repeated_status_update_is_a_no_op_and_a_conflicting_one_is_refused(env):
    app, (first, _) = two_manifests(env)
    event = {"action": "complete", "manifest_id": first, "date_prefix": DAY, "status": "completed"}
    invoke(app, event)
    again = invoke(app, event)
    assert again["files"] == 3 and again["repeat"] is True
    with pytest.raises(ManifestAlreadyFinal):
        invoke(app, {**event, "status": "failed"})
    assert {f["status"] for f in env.files_as_read(DAY) if f["manifest_id"] == first} == {"completed"}


def test_failed_status_keeps_error_and_cause(env):
    app, (first, _) = two_manifests(env)
    result = invoke(
        app,
        {
            "action": "complete",
            "manifest_id": first,
            "date_prefix": DAY,
            "status": "failed",
            "error": "States.TaskFailed",
            "cause": "x" * 10_000,
        },
    )
    assert result["files"] == 3
    item = next(m for m in env.manifest_items(DAY) if m["manifest_id"] == first)
    assert item["status"] == "failed" and item["error"] == "States.TaskFailed"
    assert len(item["cause"]) == 4000
    failed = [f for f in env.files_as_read(DAY) if f["manifest_id"] == first]
    assert {f["status"] for f in failed} == {"failed"}  # the error is the manifest's, kept once on its item
    assert "job_error" not in item  # the cause is not a Glue job run


def test_a_failed_glue_run_keeps_the_jobs_error_name(env):
    app, (first, _) = two_manifests(env)
    run = {"Id": "jr_1", "JobRunState": "FAILED", "ErrorMessage": "BadRecordRatioExceeded: 40% of 10 lines"}
    event = {
        "action": "complete",
        "manifest_id": first,
        "date_prefix": DAY,
        "status": "failed",
        "error": "States.TaskFailed",
        "cause": json.dumps(run),
    }
    invoke(app, event)
    item = next(m for m in env.manifest_items(DAY) if m["manifest_id"] == first)
    assert item["error"] == "States.TaskFailed" and item["job_error"] == "BadRecordRatioExceeded"


def test_items_written_before_completion_by_reference_read_as_they_did(env):
    """A file the previous code finished itself (stored `completed`) reads completed, before and after the status
    update that now writes only the MANIFEST item; a file stored `manifested` reads as its manifest."""
    app, (first, _) = two_manifests(env)
    [old, *rest] = [f for f in env.files(DAY) if f["manifest_id"] == first]
    env.ddb.update_item(  # what the previous code's per-file completion write left
        TableName="tracking",
        Key={"date_prefix": {"S": DAY}, "file_key": {"S": old["file_key"]}},
        UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "completed"}},
    )
    status = {f["file_key"]: f["status"] for f in env.files_as_read(DAY)}
    assert status[old["file_key"]] == "completed" and {status[f["file_key"]] for f in rest} == {"manifested"}
    result = invoke(
        app, {"action": "complete", "manifest_id": first, "date_prefix": DAY, "status": "completed"}
    )
    assert result["files"] == 3
    assert {f["status"] for f in env.files_as_read(DAY) if f["manifest_id"] == first} == {"completed"}
    stored = {f["file_key"]: f["status"] for f in env.files(DAY)}
    assert stored[old["file_key"]] == "completed" and {stored[f["file_key"]] for f in rest} == {"manifested"}


def test_invalid_status_update_is_a_named_error(env):
    app = env.app()
    with pytest.raises(InvalidEvent, match="status must be"):
        invoke(
            app, {"action": "complete", "manifest_id": "2026-11-20-000000-abcdefabcdef", "date_prefix": DAY}
        )


def wide_report(columns: int = 6000) -> dict:
    """A report of a table with thousands of columns: its schema alone passes Step Functions' 256 KiB limit."""
    schema = [{"name": f"attributes_{i:05d}_with_a_long_name", "type": "string"} for i in range(columns)]
    return {**REPORT, "schema": schema}


def test_completed_reads_a_report_larger_than_256_kib_from_its_s3_path(env):
    """The state machine passes only report_path; the status update reads the report and keeps its counts."""
    app, (first, _) = two_manifests(env)
    env.s3.create_bucket(Bucket="complete-wide-report-out")
    body = json.dumps(wide_report()).encode()
    assert len(body) > 256 * 1024
    key = report_key("lake/events/", first)
    env.s3.put_object(Bucket="complete-wide-report-out", Key=key, Body=body)
    event = {
        "action": "complete",
        "manifest_id": first,
        "date_prefix": DAY,
        "status": "completed",
        "report_path": f"s3://complete-wide-report-out/{key}",
    }
    assert len(json.dumps(event)) < 1024
    assert invoke(app, event)["files"] == 3
    item = next(m for m in env.manifest_items(DAY) if m["manifest_id"] == first)
    assert item["status"] == "completed"
    assert (item["records_in"], item["records_out"], item["output_files"]) == ("30", "28", "2")


def test_report_path_must_be_this_manifests_report_and_must_exist(env):
    app, (first, _) = two_manifests(env)
    event = {"action": "complete", "manifest_id": first, "date_prefix": DAY, "status": "completed"}
    with pytest.raises(InvalidEvent, match="report_path"):
        invoke(app, {**event, "report_path": "s3://some-bucket/lake/events/_reports/other.json"})
    with pytest.raises(JobReportNotReadable, match="s3:GetObject"):
        invoke(app, {**event, "report_path": f"s3://{'manifest-bucket'}/{report_key('lake/events', first)}"})
    item = next(m for m in env.manifest_items(DAY) if m["manifest_id"] == first)
    assert item["status"] == "pending"  # nothing recorded without the report
