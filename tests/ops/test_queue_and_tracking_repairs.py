"""Redrive, backfill and reconcile against the embedded AWS, on state the pipeline itself produced: real S3
notifications that a crashed consumer let fall into the DLQ, objects that landed before the notification existed,
and a manifest builder that died between claiming files and recording the manifest."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from pipeline.cli.ops import ops_app
from pipeline.ops.backfill import backfill, object_record
from pipeline.ops.reconcile import reconcile
from pipeline.ops.redrive import redrive

from .harness import INPUT, MANIFESTS, MiniStack, ndjson


@pytest.fixture(scope="module")
def stack(aws, tmp_path_factory):
    # No Glue run happens in this module: no Spark needed (the runner is never called).
    mini = MiniStack(aws, tmp_path_factory.mktemp("ops-queues")).start(spark=None, env={})
    yield mini
    mini.stop()


def _crashed_consumer(stack, rounds=2):
    """A consumer that receives and dies before deleting: after maxReceiveCount receives SQS dead-letters."""
    sqs = stack.aws.client("sqs")
    for _ in range(rounds + 1):
        sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        time.sleep(1.1)  # the queue's visibility timeout


def test_dead_lettered_notifications_are_redriven_and_then_tracked(stack):
    day = "2026-10-05"
    for name in ("a", "b", "c"):
        stack.drop(f"raw/{day}/{name}.ndjson", ndjson(day, name, 3))
    _crashed_consumer(stack)
    assert stack.depth(stack.queue_url) == 0
    assert stack.depth(stack.dlq_url) >= 3  # the three notifications (plus S3's test event)
    assert stack.files(day) == []
    sqs = stack.aws.client("sqs")
    before = stack.depth(stack.dlq_url)

    # --max 1: exactly one message moves, one by one (a move task cannot be capped).
    first = redrive(sqs, stack.dlq_url, stack.queue_url, max_messages=1, custom_endpoint=True)
    assert (first.method, first.moved, first.ok) == ("receive-send-delete", 1, True)
    assert stack.depth(stack.dlq_url) == before - 1 and stack.depth(stack.queue_url) == 1

    # The rest through the CLI: moto has no StartMessageMoveTask, so it falls back and says so in --json.
    outputs = stack.outputs_file()
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app, ["redrive", "--json", "--outputs", str(outputs), "--endpoint-url", stack.aws.endpoint_url]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["method"] == "receive-send-delete" and document["moved"] == before - 1
    assert document["dlq_after"] == 0 and stack.depth(stack.dlq_url) == 0

    # Processed by the Lambda path like any notification: every file tracked once.
    stack.deliver()
    files = stack.files(day)
    assert sorted(f["key"] for f in files) == [f"raw/{day}/{n}.ndjson" for n in "abc"]
    assert {f["status"] for f in files} == {"pending"}
    assert stack.depth(stack.queue_url) == 0 and stack.depth(stack.dlq_url) == 0


def test_backfill_tracks_only_untracked_objects_through_the_live_path(stack):
    day = "2026-10-06"
    # One object arrives live (notification -> SQS -> handler); two landed before notifications existed.
    stack.drop(f"raw/{day}/live.ndjson", ndjson(day, "live", 2))
    stack.deliver()
    s3 = stack.aws.client("s3")
    config = s3.get_bucket_notification_configuration(Bucket=INPUT)
    s3.put_bucket_notification_configuration(Bucket=INPUT, NotificationConfiguration={})
    s3.put_bucket_versioning(
        Bucket=INPUT, VersioningConfiguration={"Status": "Enabled"}
    )  # as Terraform sets it
    stack.drop(f"raw/{day}/old one.ndjson", ndjson(day, "old1", 2))
    stack.drop(f"raw/{day}/old+two.jsonl.gz", ndjson(day, "old2", 2))
    stack.drop(f"raw/{day}/notes.txt", b"not data")
    config.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=INPUT, NotificationConfiguration=config)
    assert len(stack.files(day)) == 1

    ctx = stack.ctx()
    dry = backfill(ctx, INPUT, f"raw/{day}/", dry_run=True)
    assert (dry.listed, dry.tracked, dry.already_tracked, dry.skipped_suffix) == (4, 2, 1, 1)
    assert len(stack.files(day)) == 1  # a dry run changes nothing

    result = backfill(ctx, INPUT, f"raw/{day}/")
    assert (result.tracked, result.already_tracked, result.skipped_suffix) == (2, 1, 1)
    assert result.dates == {day: 2}
    files = stack.files(day)
    assert sorted(f["key"] for f in files) == [
        f"raw/{day}/live.ndjson",
        f"raw/{day}/old one.ndjson",
        f"raw/{day}/old+two.jsonl.gz",
    ]
    # Backfilled items name the object's current version as a notification would (versioned buckets).
    for item in files:
        if "old" in item["key"]:
            version = s3.head_object(Bucket=INPUT, Key=item["key"])["VersionId"]
            assert version not in (None, "null") and item.get("version_id") == version, item
    s3.put_bucket_versioning(Bucket=INPUT, VersioningConfiguration={"Status": "Suspended"})
    # Same file keys as live events would produce (ETag without quotes): a second run is all duplicates.
    again = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "backfill",
            "--prefix",
            f"raw/{day}/",
            "--json",
            "--outputs",
            str(stack.outputs_file()),
            "--endpoint-url",
            stack.aws.endpoint_url,
        ],
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["already_tracked"] == 3 and len(stack.files(day)) == 3
    counter = next(i for i in stack.items(day) if i["file_key"] == "META#PENDING")
    assert counter["pending_count"] == 3  # the date's pending hint counts each file once


class Killed(BaseException):
    """The Lambda runtime killing the process mid-invocation: no except clause of ours runs."""


def _die_on(client, operation, when=lambda params: True):
    event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def die(params, **_):
        if when(params):
            raise Killed()

    client.meta.events.register(event, die)


def _builder_twenty_minutes_ago(stack, day, names):
    """The manifest builder as it ran twenty minutes ago: it tracked these objects (put under a prefix without
    notifications) through its SQS path; returns that service, its clock still in the past."""
    ctx = stack.ctx()
    service = ctx.control_plane()
    service.clock = lambda: datetime.now(UTC) - timedelta(minutes=20)
    session = service.ingest_session()
    s3 = stack.aws.client("s3")
    for name in names:
        key = f"legacy/{day}/{name}.ndjson"
        stack.drop(key, ndjson(day, name, 2))
        head = s3.head_object(Bucket=INPUT, Key=key)
        obj = {
            "Key": key,
            "Size": head["ContentLength"],
            "ETag": head["ETag"],
            "LastModified": head["LastModified"],
        }
        session.handle_message(json.dumps({"Records": [object_record(INPUT, obj)]}))
    session.close()
    return service


def test_reconcile_repairs_a_crash_between_claim_and_record(stack):
    day = "2026-10-07"
    crashed = _builder_twenty_minutes_ago(stack, day, ["x", "y"])
    # Its flush is killed while writing the manifest object (before StartExecution).
    _die_on(crashed.store._client, "PutObject")
    with pytest.raises(Killed):
        crashed.flush()
    assert {f["status"] for f in stack.files(day)} == {"manifested"}
    [claim] = [i for i in stack.items(day) if i["file_key"].startswith("CLAIM#")]

    plan = reconcile(stack.ctx(), [day], only_date=day, dry_run=True)
    assert [(c.manifest_id, c.action, c.files) for c in plan.claims] == [
        (claim["manifest_id"], "roll back files", 2)
    ]
    assert {f["status"] for f in stack.files(day)} == {"manifested"}  # dry run: untouched

    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "reconcile",
            "--date",
            day,
            "--json",
            "--outputs",
            str(stack.outputs_file()),
            "--endpoint-url",
            stack.aws.endpoint_url,
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["claims"][0]["action"] == "roll back files" and document["ok"]
    files = stack.files(day)
    assert {f["status"] for f in files} == {"pending"} and all("manifest_id" not in f for f in files)
    assert not [i for i in stack.items(day) if i["file_key"].startswith("CLAIM#")]
    assert stack.manifests(day) == []
    listed = stack.aws.client("s3").list_objects_v2(Bucket=MANIFESTS, Prefix=f"manifests/{day}/")
    assert listed.get("KeyCount", 0) == 0
    # Nothing left to do: a second reconcile is a no-op.
    assert reconcile(stack.ctx(), [day], only_date=day).claims == []


def test_reconcile_records_the_manifest_of_a_started_execution(stack):
    day = "2026-10-08"
    crashed = _builder_twenty_minutes_ago(stack, day, ["z"])
    # Killed right after StartExecution, before the MANIFEST item is written.
    _die_on(
        crashed.table._client,
        "UpdateItem",
        when=lambda p: str(p.get("Key", {}).get("file_key", {}).get("S", "")).startswith("MANIFEST#"),
    )
    with pytest.raises(Killed):
        crashed.start_due_batches(day, None, allow_partial=True, budget=1)  # what its flush does per date
    [claim] = [i for i in stack.items(day) if i["file_key"].startswith("CLAIM#")]
    plan = reconcile(stack.ctx(), [day], only_date=day, dry_run=True)
    assert [(c.manifest_id, c.action) for c in plan.claims] == [(claim["manifest_id"], "record manifest")]
    reconcile(stack.ctx(), [day], only_date=day)
    [manifest] = stack.manifests(day)
    assert manifest["manifest_id"] == claim["manifest_id"] and manifest["file_count"] == 1
    assert manifest["execution_arn"].endswith(":" + claim["manifest_id"])
    assert not [i for i in stack.items(day) if i["file_key"].startswith("CLAIM#")]
    stack.wait_executions_done()  # (this module runs no Spark: the execution's Glue run fails; not our subject)


def test_status_without_dates_finds_pending_dates_and_prints_tables(stack):
    from pipeline.ops.status import collect

    day = "2026-09-30"  # far from "today": found through the pending index, not the recent-days window
    stack.drop(f"raw/{day}/p.ndjson", ndjson(day, "p", 2))
    stack.deliver()
    ctx = stack.ctx()
    report = collect(ctx.ddb, ctx.table_name, days=1, pending_shards=2)
    shown = {d.date_prefix for d in report.dates}
    assert day in shown
    [ours] = stack.files(day)
    assert report.oldest_pending is not None and report.oldest_pending["created_at"] <= ours["created_at"]
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "status",
            "--days",
            "1",
            "--outputs",
            str(stack.outputs_file()),
            "--endpoint-url",
            stack.aws.endpoint_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Pipeline status" in result.stdout and "Oldest pending file" in result.stdout
    assert day in result.stdout


def test_enforced_iam_denies_what_the_terraform_policy_lacks_and_names_the_action(stack):
    # The harness's operators' role has exactly Terraform's operator_policy_json. Without its statement that lets
    # the commands list the buckets, `backfill --dry-run` cannot list the input bucket: the request is denied and
    # the after-test check (raise_if_denied) names the role, the action and the bucket. With the statement back,
    # the same command works: the enforcement checks the rendered policy, statement by statement.
    from pipeline.embedded.iam import IamAccessDenied

    role = stack.policies["components"]["operator"]
    [(policy_name, document)] = stack.policies["roles"][role]["inline"].items()
    assert any(s.get("Sid") == "ListInputManifestsAndTable" for s in document["Statement"])
    without = {
        **document,
        "Statement": [s for s in document["Statement"] if s.get("Sid") != "ListInputManifestsAndTable"],
    }
    iam = stack.aws.client("iam")  # the harness admin
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(without))
    try:
        with pytest.raises(Exception, match="AccessDenied"):
            backfill(stack.ctx(), INPUT, "raw/", dry_run=True)
        with pytest.raises(IamAccessDenied) as denied:
            stack.raise_if_denied()
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))
    message = str(denied.value)
    assert (
        f"assumed-role/{role}/" in message
        and "s3:ListBucket" in message
        and f"arn:aws:s3:::{INPUT}" in message
    )
    assert denied.value.error_name == "IamAccessDenied"
    assert backfill(stack.ctx(), INPUT, "raw/", dry_run=True).dry_run  # the statement restored: allowed again
