"""Fault injection on the small embedded stack (real handler, real ASL in moto's interpreter, real Glue job on the
local Spark). AWS faults are injected at the botocore port (tests/reliability/faults.py). Every scenario ends with
`pipeline.checks.invariants` holding after the documented recovery: the scheduled flush (rollback / crash repair),
`pipeline reconcile`, `pipeline redrive`. Each scenario uses its own date so the module shares one stack."""

from __future__ import annotations

import json
import time

import pytest
from ops.harness import INPUT, LAKE, MANIFESTS, TABLE, MiniStack, ndjson

from pipeline.ops.errors import ManifestNotRetryable
from pipeline.ops.reconcile import reconcile
from pipeline.ops.redrive import redrive
from pipeline.ops.retry import retry_manifest

from .checks import assert_holds, check, flush_later
from .faults import FAULTS, ProcessKilled, Rule, is_status_update_write


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("reliability-faults")).start(spark, {})
    yield mini
    mini.stop()


def _drop(stack: MiniStack, day: str, *names: str, rows: int = 15) -> None:
    for name in names:
        stack.drop(f"raw/{day}/{name}.ndjson", ndjson(day, name, rows))
    stack.deliver()
    assert {f["status"] for f in stack.files(day)} == {"pending"}


def _manifest_objects(stack: MiniStack, day: str) -> list[str]:
    listed = stack.aws.client("s3").list_objects_v2(Bucket=MANIFESTS, Prefix=f"manifests/{day}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_same_s3_event_three_times_is_tracked_once(stack):
    day = "2026-09-01"
    stack.drop(f"raw/{day}/a.ndjson", ndjson(day, "a", 20))
    sqs = stack.aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=1)["Messages"]
    for _ in range(2):  # S3 delivers at least once: two more copies of the very same event
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=message["Body"])
    assert stack.deliver(rounds=10) >= 2
    assert len(stack.files(day)) == 1
    stack.flush()
    [manifest] = stack.wait_manifests_final(day, 1)
    assert manifest["status"] == "completed" and int(manifest["file_count"]) == 1
    stack.wait_executions_done()
    report = assert_holds(stack, day)
    assert report.lines_checked == 20 and len(stack.lake_records(day)) == 20


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalFailure", 500)])
def test_start_execution_failing_intermittently_is_retried_by_the_builder(stack, code, status):
    day = "2026-09-02" if status == 400 else "2026-09-16"
    _drop(stack, day, "a", "b")
    with FAULTS.active(Rule("sfn", "StartExecution", code, status=status, times=2)) as [rule]:
        started = stack.flush()["started"]
    assert rule.hits == 2 and len(started) == 1  # the builder's backoff absorbed two throttles
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert_holds(stack, day)


@pytest.mark.parametrize(
    ("code", "status"), [("AccessDeniedException", 400), ("ExecutionLimitExceeded", 400)]
)
def test_start_execution_refused_rolls_back_and_the_next_flush_runs_it(stack, code, status):
    day = "2026-09-03" if code.startswith("Access") else "2026-09-04"
    _drop(stack, day, "a", "b", "c")
    with FAULTS.active(Rule("sfn", "StartExecution", code, status=status)) as [rule]:
        stack.flush()
        assert rule.hits >= 1
    # Rolled back: files pending again, no MANIFEST item, no manifest object, no open claim.
    assert {f["status"] for f in stack.files(day)} == {"pending"}
    assert stack.manifests(day) == [] and _manifest_objects(stack, day) == []
    report = check(stack, day)
    assert report.ok and not report.settled, report.summary()
    stack.flush()  # recovery: the next scheduled flush
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert assert_holds(stack, day).lines_checked == 45


def test_manifest_write_failing_leaves_files_pending_until_the_next_flush(stack):
    day = "2026-09-05"
    _drop(stack, day, "a", "b")
    rule = Rule("s3", "PutObject", "InternalError", status=500, when=lambda p: p.get("Bucket") == MANIFESTS)
    with FAULTS.active(rule):
        stack.flush()
    assert rule.hits >= 1
    assert {f["status"] for f in stack.files(day)} == {"pending"} and stack.manifests(day) == []
    assert check(stack, day).ok
    stack.flush()
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert_holds(stack, day)


@pytest.mark.parametrize("when", ["before", "after"])
def test_handler_killed_between_claim_and_record_is_repaired_by_the_flush(stack, when):
    day = "2026-09-06" if when == "before" else "2026-09-07"
    _drop(stack, day, "a", "b")
    with FAULTS.active(Rule("sfn", "StartExecution", kill=when)) as [rule], pytest.raises(ProcessKilled):
        stack.flush()
    assert rule.hits == 1
    # Claimed, never recorded: an open claim explains the manifested files.
    report = check(stack, day)
    assert report.ok and any("open claim" in line for line in report.in_flight), report.summary()
    # Recovery: the scheduled flush after REPAIR_GRACE_SECONDS (started execution -> recorded; none -> rolled
    # back and batched again).
    outcome = flush_later(stack)
    repaired = outcome["repaired_recorded" if when == "after" else "repaired_rolled_back"]
    assert len(repaired) == 1, outcome
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    report = assert_holds(stack, day)
    assert report.lines_checked == 30 and len(stack.lake_records(day)) == 30


def test_status_update_failing_after_the_glue_job_is_completed_by_reconcile(stack):
    day = "2026-09-08"
    _drop(stack, day, "a", "b")
    # Every status update of this date fails (its write of the MANIFEST item is refused), after Glue succeeded.
    rule = Rule("dynamodb", "UpdateItem", "AccessDeniedException", when=is_status_update_write)
    with FAULTS.active(rule):
        stack.flush()
        stack.wait_executions_done(timeout=180)
    assert rule.hits >= 1
    [manifest] = stack.manifests(day)
    assert manifest["status"] == "processing"  # Glue output exists, the status never arrived
    assert stack.lake_records(day)
    result = reconcile(stack.ctx(), dates=[day], grace_seconds=960)
    assert result.ok
    [manifest] = stack.manifests(day)
    assert manifest["status"] == "completed"
    assert_holds(stack, day)


def test_poison_message_reaches_the_dlq_and_is_redriven(stack):
    day = "2026-09-09"
    sqs = stack.aws.client("sqs")
    # A message the handler cannot take (tracking refused) is retried, then SQS moves it to the DLQ.
    rule = Rule(
        "dynamodb", "PutItem", "AccessDeniedException", when=lambda p: day in json.dumps(p, default=str)
    )
    with FAULTS.active(rule):
        stack.drop(f"raw/{day}/a.ndjson", ndjson(day, "a", 12))
        for _ in range(6):
            stack.deliver(rounds=1)
            if stack.depth(stack.dlq_url):
                break
            time.sleep(1.1)  # the queue's visibility timeout is 1 s, maxReceiveCount 2
    assert rule.hits >= 2 and stack.depth(stack.dlq_url) == 1 and stack.files(day) == []
    report = check(stack, day)
    assert not report.ok and "not tracked" in report.summary()  # the checker sees the stuck file
    result = redrive(sqs, stack.dlq_url, stack.queue_url, custom_endpoint=True)
    assert result.ok and result.moved == 1
    stack.deliver()
    stack.flush()
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert_holds(stack, day)


def test_the_checker_sees_duplicates_orphans_missing_arns_and_untracked_files(stack):
    """The checker is only worth its scenarios if it fails when the promise is broken: tamper with a settled
    date in four ways, each is named, and undoing them makes it hold again."""
    day = "2026-09-10"
    _drop(stack, day, "a")
    stack.flush()
    [manifest] = stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert_holds(stack, day)
    s3, ddb = stack.aws.client("s3"), stack.aws.client("dynamodb")
    [parquet] = [k for k in stack.lake_keys(day) if k.endswith(".parquet")]
    copy = parquet.replace(".part-00000-", ".part-00099-")
    s3.copy_object(Bucket=LAKE, Key=copy, CopySource={"Bucket": LAKE, "Key": parquet})
    orphan = f"manifests/{day}/{day}-000000-0123456789ab.json"
    s3.put_object(Bucket=MANIFESTS, Key=orphan, Body=b'{"entries": []}')
    key = {"date_prefix": {"S": day}, "file_key": {"S": f"MANIFEST#{manifest['manifest_id']}"}}
    ddb.update_item(TableName=TABLE, Key=key, UpdateExpression="REMOVE execution_arn")
    s3.put_object(Bucket=INPUT, Key=f"raw/{day}/never-delivered.ndjson", Body=b'{"a": 1}\n')

    text = check(stack, day).summary()
    assert "15 non-blank lines, 30 Parquet rows" in text
    assert f"orphan manifest object s3://{MANIFESTS}/{orphan}" in text
    assert "has no execution_arn" in text
    assert "never-delivered.ndjson" in text and "is not tracked" in text

    s3.delete_object(Bucket=LAKE, Key=copy)
    s3.delete_object(Bucket=MANIFESTS, Key=orphan)
    ddb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET execution_arn = :arn",
        ExpressionAttributeValues={":arn": {"S": manifest["execution_arn"]}},
    )
    stack.deliver()  # the late notification arrives: tracked, then batched by the flush
    stack.flush()
    stack.wait_manifests_final(day, 2)
    stack.wait_executions_done()
    assert assert_holds(stack, day).lines_checked == 16


def test_bad_ratio_failure_then_the_producer_fix_and_the_retry_trap(stack):
    """BadRecordRatioExceeded fails the batch with its quarantine written and nothing published. The producer's
    fix is an overwrite of the object: the new content is a new ETag, tracked and converted on its own, and the
    invariant holds with the old manifest failed (visible in `pipeline status`). Retrying the failed manifest
    after that overwrite would convert the new content a second time: `retry` refuses it, naming the object."""
    day = "2026-09-11"
    key = f"raw/{day}/orders.ndjson"
    stack.drop(key, ndjson(day, "orders", 10, bad_lines=5))
    stack.deliver()
    stack.flush()
    [failed] = stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert failed["status"] == "failed" and failed.get("job_error") == "BadRecordRatioExceeded", failed
    assert stack.lake_records(day) == []
    report = assert_holds(stack, day)  # failed is terminal; its 5 quarantined lines are its own
    assert report.lines_checked == 0

    stack.drop(key, ndjson(day, "orders", 10))  # the producer re-sends the file, fixed
    stack.deliver()
    stack.flush()
    manifests = stack.wait_manifests_final(day, 2)
    stack.wait_executions_done()
    assert sorted(m["status"] for m in manifests) == ["completed", "failed"]
    assert assert_holds(stack, day).lines_checked == 10 and len(stack.lake_records(day)) == 10

    with pytest.raises(ManifestNotRetryable, match=f"s3://.*{key}"):
        retry_manifest(stack.ctx(), failed["manifest_id"])
    assert len(stack.lake_records(day)) == 10  # each line once
    assert assert_holds(stack, day).lines_checked == 10


def test_dynamodb_throttling_while_tracking_is_absorbed_or_redelivered(stack):
    day = "2026-09-12"
    rule = Rule(
        "dynamodb",
        "PutItem",
        "ProvisionedThroughputExceededException",
        times=4,
        when=lambda p: day in json.dumps(p, default=str),
    )
    with FAULTS.active(rule):
        for name in ("a", "b", "c"):
            stack.drop(f"raw/{day}/{name}.ndjson", ndjson(day, name, 8))
        for _ in range(5):
            stack.deliver()
            if len(stack.files(day)) == 3:
                break
            time.sleep(1.1)  # a failed message comes back after the visibility timeout
    assert rule.hits == 4 and len(stack.files(day)) == 3
    stack.flush()
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert assert_holds(stack, day).lines_checked == 24


def test_handler_killed_mid_batch_and_sqs_redelivers_after_the_visibility_timeout(stack):
    day = "2026-09-13"
    for name in ("a", "b", "c", "d"):
        stack.drop(f"raw/{day}/{name}.ndjson", ndjson(day, name, 6))
    # The sandbox dies after the second file was tracked: nothing is deleted from the queue.
    rule = Rule("dynamodb", "PutItem", kill="after", when=lambda p: day in json.dumps(p, default=str))
    calls = {"n": 0}

    def second(params: dict) -> bool:
        calls["n"] += 1
        return calls["n"] == 2

    rule.when = lambda p: day in json.dumps(p, default=str) and second(p)
    with FAULTS.active(rule), pytest.raises(ProcessKilled):
        stack.deliver(rounds=1)
    assert 1 <= len(stack.files(day)) < 4
    time.sleep(1.2)  # visibility timeout of the harness queue: 1 s
    stack.deliver(rounds=10)
    assert len(stack.files(day)) == 4  # the redelivered events of tracked files were no-ops
    stack.flush()
    stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert assert_holds(stack, day).lines_checked == 24


def test_sns_alert_failing_does_not_hide_a_failed_batch(stack):
    day = "2026-09-14"
    _drop(stack, day, "a")
    stack.aws.client("s3").delete_object(Bucket=INPUT, Key=f"raw/{day}/a.ndjson")
    with FAULTS.active(Rule("sns", "Publish", "InternalError", status=500)) as [rule]:
        stack.flush()
        [manifest] = stack.wait_manifests_final(day, 1)
        stack.wait_executions_done()
    assert manifest["status"] == "failed" and rule.hits >= 1  # the alert failed, the state did not
    assert {f["status"] for f in stack.files(day)} == {"failed"}
    report = check(stack, day)
    assert report.ok and report.settled, report.summary()


def test_glue_publish_failing_mid_write_then_retried(stack):
    day = "2026-09-15"
    _drop(stack, day, "a", "b")
    rule = Rule(
        "s3",
        "PutObject",
        "InternalError",
        status=500,
        times=1,
        when=lambda p: p.get("Bucket") == LAKE and str(p.get("Key", "")).endswith(".parquet"),
    )
    with FAULTS.active(rule):
        stack.flush()
        [manifest] = stack.wait_manifests_final(day, 1)
        stack.wait_executions_done()
    assert rule.hits == 1 and manifest["status"] == "failed", manifest
    assert check(stack, day).ok  # nothing counted as converted
    retry_manifest(stack.ctx(), manifest["manifest_id"])
    [manifest] = stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert manifest["status"] == "completed"
    assert assert_holds(stack, day).lines_checked == 30
