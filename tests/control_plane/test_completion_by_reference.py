"""Completion by reference against moto's DynamoDB: the status update writes only the MANIFEST item, so the
operator writes that used to condition on a file's own final status condition on its manifest instead.

- `pipeline replay` resets a file stored `manifested` only when its MANIFEST item is final (one transaction with a
  ConditionCheck on it), never while the manifest is running, and an item stored `completed`/`failed` by the
  previous code as before;
- `pipeline retry` requeues a failed manifest's files (`requeue_files`): TTL refreshed, items stored `failed` by the
  previous code back to `manifested`, only the files of that manifest.
"""

from __future__ import annotations

from pipeline.control_plane.bootstrap import handle_event
from pipeline.control_plane.domain.times import CLAIM_TTL_MARGIN_DAYS

from .conftest import TABLE, LambdaContext, s3_record, sqs_event

DAY = "2026-11-18"
NOW = "2026-12-01T00:00:00.000000Z"


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def one_manifest(env, files: int = 2):
    app = env.app(max_files_per_manifest=files)
    invoke(app, sqs_event(*[s3_record(f"byref/{DAY}/{i}.ndjson") for i in range(files)]))
    [manifest] = env.manifest_items(DAY)
    return app, manifest["manifest_id"]


def set_status(env, file_key: str, status: str) -> None:
    env.ddb.update_item(
        TableName=TABLE,
        Key={"date_prefix": {"S": DAY}, "file_key": {"S": file_key}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )


def stored(env) -> dict[str, dict]:
    return {f["file_key"]: f for f in env.files(DAY)}


def test_replay_never_resets_a_file_whose_manifest_is_still_running(env):
    app, manifest_id = one_manifest(env)
    table = app.service.table
    [first, second] = sorted(stored(env))
    for status in ("pending", "processing"):
        if status == "processing":
            set_status(env, f"MANIFEST#{manifest_id}", "processing")
        assert not table.reset_file_for_replay(DAY, first, NOW, "r1", NOW, 1, manifest_id=manifest_id)
        assert (
            stored(env)[first]["status"] == "manifested" and stored(env)[first]["manifest_id"] == manifest_id
        )
    # the stored-final path refuses a manifested file too (it is not stored completed/failed)
    assert not table.reset_file_for_replay(DAY, first, NOW, "r1", NOW, 1)
    assert {f["status"] for f in env.files_as_read(DAY)} == {"manifested"}

    invoke(app, {"action": "complete", "manifest_id": manifest_id, "date_prefix": DAY, "status": "completed"})
    assert {f["status"] for f in env.files_as_read(DAY)} == {"completed"}
    # a file claimed by another manifest since is not this manifest's to reset
    assert not table.reset_file_for_replay(
        DAY, first, NOW, "r1", NOW, 1, manifest_id=f"{DAY}-000000-000000000000"
    )
    assert table.reset_file_for_replay(DAY, first, NOW, "r1", NOW, 1, manifest_id=manifest_id)
    after = stored(env)[first]
    assert after["status"] == "pending" and "manifest_id" not in after and after["replay_id"] == "r1"
    assert after["pending_shard"] and after["pending_key"].startswith(DAY)
    # once reset it is pending: a second reset (a resumed replay) changes nothing
    assert not table.reset_file_for_replay(DAY, first, NOW, "r1", NOW, 1, manifest_id=manifest_id)
    read = {f["file_key"]: f["status"] for f in env.files_as_read(DAY)}
    assert read == {first: "pending", second: "completed"}


def test_replay_resets_items_stored_final_by_the_previous_code_without_their_manifest(env):
    app, _ = one_manifest(env)
    table = app.service.table
    [first, second] = sorted(stored(env))
    set_status(env, first, "completed")
    set_status(env, second, "failed")
    assert table.reset_file_for_replay(DAY, first, NOW, "r2", NOW, 1)
    assert table.reset_file_for_replay(DAY, second, NOW, "r2", NOW, 1)
    assert {f["status"] for f in env.files(DAY)} == {"pending"}


def test_retry_requeues_only_its_manifests_files_and_refreshes_their_ttl(env):
    app, manifest_id = one_manifest(env)
    table = app.service.table
    invoke(
        app,
        {
            "action": "complete",
            "manifest_id": manifest_id,
            "date_prefix": DAY,
            "status": "failed",
            "error": "X",
        },
    )
    [first, second] = sorted(stored(env))
    set_status(env, second, "failed")  # as the previous code's per-file completion left it
    claim_ttl = int(stored(env)[first]["ttl"])
    # the claim's TTL outlives the manifest's (final status + TTL_DAYS) by the margin, minus the run's duration
    assert claim_ttl - int(env.manifest_items(DAY)[0]["ttl"]) == CLAIM_TTL_MARGIN_DAYS * 86400
    assert table.requeue_files(DAY, [first, second], f"{DAY}-000000-000000000000", NOW, claim_ttl + 99) == 0
    assert table.requeue_files(DAY, [first, second], manifest_id, NOW, claim_ttl + 100) == 2
    after = stored(env)
    assert {after[k]["status"] for k in (first, second)} == {"manifested"}
    assert {int(after[k]["ttl"]) for k in (first, second)} == {claim_ttl + 100}
