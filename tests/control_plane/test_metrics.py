"""The control plane's metrics through the handler (moto in-process): one EMF line per invocation, exactly the
counts of what happened, the freshness of every flush, names and units from pipeline/contracts/metrics.py."""

from __future__ import annotations

import json

import pytest

from pipeline.contracts import metrics as m
from pipeline.control_plane.adapters.tracking_records import StartedManifest, Verdict
from pipeline.control_plane.bootstrap import handle_event
from pipeline.control_plane.domain.items import manifest_item_key
from pipeline.control_plane.domain.states import ManifestStatus

from .conftest import LambdaContext, inject_error, s3_record, sqs_event, sqs_message
from .test_crash_repair import Killed, kill_on

DAY = "2026-11-20"
NAMESPACE = "test-stack/pipeline"


@pytest.fixture
def metered(env, monkeypatch):
    """An app whose EMF lines land in a list (as print would put them in the function's log)."""
    monkeypatch.setenv(m.NAMESPACE_ENV, NAMESPACE)
    lines: list[str] = []

    def make(**overrides):
        app = env.app(**overrides)
        app.metrics.emit = lines.append
        return app

    return make, lines


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def values(line: str) -> dict[str, float]:
    points = m.parse_emf(line)
    assert {p["namespace"] for p in points} == {NAMESPACE}
    assert all(p["dimensions"] == {"service": m.LAMBDA_SERVICE} for p in points)
    assert all(p["unit"] == m.BY_NAME[p["name"]].unit for p in points)
    return {p["name"]: sum(p["values"]) for p in points}


def test_an_sqs_batch_writes_one_line_with_the_exact_counts(metered):
    make, lines = metered
    app = make(max_files_per_manifest=3)
    first = s3_record(f"raw/{DAY}/a.ndjson", etag="same")
    others = [s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]
    event = sqs_event(first, *others)
    event["Records"].append(sqs_message({"Records": [first]}))  # S3 delivered one notification twice
    invoke(app, event)
    [line] = lines
    assert values(line) == {
        "FilesTracked": 4,
        "DuplicateEventsIgnored": 1,
        "ManifestsStarted": 1,
        "FilesManifested": 3,
    }
    document = json.loads(line)
    assert "a.ndjson" not in line and "manifest_id" not in document  # no file names nor ids anywhere


def test_each_flush_reports_the_age_of_the_oldest_line_not_yet_queryable(metered, env):
    make, lines = metered
    app = make(max_files_per_manifest=10, max_batch_wait_seconds=300)
    invoke(app, {"action": "flush"})
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 0}  # nothing pending: fresh
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/old.ndjson")))
    env.clock.advance(60)
    invoke(app, sqs_event(s3_record("raw/2026-11-21/new.ndjson")))
    lines.clear()
    env.clock.advance(120)
    result = invoke(app, {"action": "flush"})
    assert result["started"] == []  # not due yet
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 180}  # the older date's file
    env.clock.advance(130)
    result = invoke(app, {"action": "flush"})
    assert len(result["started"]) == 1  # the old file's batch is due, the new one is not
    assert values(lines.pop()) == {
        "OldestPendingAgeSeconds": 310,
        "ManifestsStarted": 1,
        "FilesManifested": 1,
    }
    env.clock.advance(10)
    invoke(app, {"action": "flush"})
    # the old file left pending, but its batch is not converted yet: open-manifests-index still holds it
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 320}
    [started] = result["started"]
    invoke(app, {"action": "complete", "manifest_id": started, "date_prefix": DAY, "status": "completed"})
    [manifest] = env.manifest_items(DAY)
    assert "open_since" not in manifest and "manifest_open" not in manifest  # removed by the completion write
    lines.clear()
    invoke(app, {"action": "flush"})
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 260}  # only the newer file is left pending


def test_a_failed_manifest_holds_the_freshness_through_a_retry_until_it_completes(metered, env):
    make, lines = metered
    app = make(max_files_per_manifest=2)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson")))
    env.clock.advance(30)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/b.ndjson")))  # the batch is full: started, nothing pending
    [manifest] = env.manifest_items(DAY)
    mid = manifest["manifest_id"]
    invoke(
        app, {"action": "complete", "manifest_id": mid, "date_prefix": DAY, "status": "failed", "error": "X"}
    )
    env.clock.advance(70)
    lines.clear()
    invoke(app, {"action": "flush"})
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 100}  # the failed batch's oldest file (a)
    table = app.service.table
    # `pipeline retry` resets it to pending through the adapter: it stays open, under the same oldest file
    assert table.reset_manifest_for_retry(DAY, mid, "failed", None, 1, f"{mid}-r1", "2026-11-22T05:02:00Z")
    first_file = min(f["created_at"] for f in env.files(DAY))
    assert table.oldest_open_manifest() == manifest["open_since"] == first_file
    invoke(app, {"action": "flush"})
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 100}
    invoke(app, {"action": "complete", "manifest_id": mid, "date_prefix": DAY, "status": "completed"})
    lines.clear()
    invoke(app, {"action": "flush"})
    assert values(lines.pop()) == {"OldestPendingAgeSeconds": 0}


def test_a_completion_that_lands_before_the_record_keeps_the_manifest_out_of_the_index(env):
    app = env.app()
    table = app.service.table
    verdict = Verdict(ManifestStatus.COMPLETED, None, None, {})
    assert table.finalize_manifest(DAY, "early", verdict, "2026-11-22T05:01:00Z", 0)
    started = StartedManifest(DAY, "early", "arn:x", "s3://m/early.json", 1, 10, "2026-11-22T05:00:00Z")
    assert table.record_manifest(started, "2026-11-22T05:01:01Z", 0) is True  # recorded (first time)
    [item] = env.manifest_items(DAY)
    assert item["status"] == "completed" and "open_since" not in item and item["execution_arn"] == "arn:x"
    assert table.oldest_open_manifest() is None
    # and a failed one that a replay supersedes leaves the index (its files are pending again)
    failed = StartedManifest(DAY, "old", "arn:y", "s3://m/old.json", 1, 10, "2026-11-22T04:00:00Z")
    assert table.record_manifest(failed, "2026-11-22T05:01:02Z", 0)
    assert table.finalize_manifest(
        DAY, "old", Verdict(ManifestStatus.FAILED, "X", None, {}), "2026-11-22T05:02Z", 0
    )
    assert table.oldest_open_manifest() == "2026-11-22T04:00:00Z"
    assert table.supersede_manifest(DAY, manifest_item_key("old"), "replay-1", "2026-11-22T05:03:00Z")
    assert table.oldest_open_manifest() is None


def test_completed_and_failed_manifests_are_counted(metered, env):
    make, lines = metered
    app = make(max_files_per_manifest=2)
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(4)]))
    first, second = sorted(i["manifest_id"] for i in env.manifest_items(DAY))
    lines.clear()
    invoke(app, {"action": "complete", "manifest_id": first, "date_prefix": DAY, "status": "completed"})
    assert values(lines.pop()) == {"ManifestsCompleted": 1, "FilesConverted": 2}
    invoke(
        app,
        {"action": "complete", "manifest_id": second, "date_prefix": DAY, "status": "failed", "error": "X"},
    )
    assert values(lines.pop()) == {"ManifestsFailed": 1}
    # a repeated status update changes nothing and counts nothing
    invoke(app, {"action": "complete", "manifest_id": first, "date_prefix": DAY, "status": "completed"})
    assert lines == []


def test_rolled_back_starts_and_repaired_claims_are_counted(metered, env):
    make, lines = metered
    app = make(max_files_per_manifest=3, repair_grace_seconds=960)
    failures = inject_error(app.service.executions._client, "StartExecution", "AccessDeniedException")
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]))
    failures.stop()
    assert values(lines.pop()) == {"FilesTracked": 3, "StartFailuresRolledBack": 1}

    fired = kill_on(app.service.store._client, "PutObject")
    with pytest.raises(Killed):
        invoke(app, {"action": "flush"})
    assert fired
    lines.clear()  # the killed invocation still wrote its line (the freshness)
    env.clock.advance(1000)
    result = invoke(app, {"action": "flush"})
    assert len(result["repaired_rolled_back"]) == 1 and len(result["started"]) == 1
    got = values(lines.pop())
    assert got["ClaimsRepaired"] == 1 and got["ManifestsStarted"] == 1


def test_without_a_namespace_nothing_is_written(env):
    app = env.app()
    lines: list[str] = []
    app.metrics.emit = lines.append
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson")))
    assert lines == []


def test_a_failing_metrics_write_never_fails_the_invocation(metered, env):
    make, _ = metered
    app = make()

    def broken(line: str) -> None:
        raise OSError("stdout closed")

    app.metrics.emit = broken
    assert invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"))) == {"batchItemFailures": []}
    assert len(env.files(DAY)) == 1
    [warning] = [line for line in env.logs() if line["message"] == "metrics not written"]
    assert "stdout closed" in warning["cause"]
