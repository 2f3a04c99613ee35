"""The function dies between claiming and recording; the scheduled flush repairs it."""

from __future__ import annotations

import pytest

from pipeline.contracts.errors import ManifestNotReadable
from pipeline.control_plane.bootstrap import handle_event

from .conftest import LambdaContext, inject_error, s3_record, sqs_event

DAY = "2026-11-20"


class Killed(BaseException):
    """The Lambda runtime killing the process: no except clause of ours runs."""


def kill_on(client, operation, when=lambda params: True):
    event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    fired = []

    def die(params, **_):
        if not fired and when(params):
            fired.append(1)
            raise Killed()

    client.meta.events.register(event, die)
    return fired


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def test_crash_after_claim_is_rolled_back_and_restarted(env):
    app = env.app(max_files_per_manifest=3, repair_grace_seconds=960)
    fired = kill_on(app.service.store._client, "PutObject")
    with pytest.raises(Killed):
        invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]))
    assert fired
    files = env.files(DAY)
    assert {f["status"] for f in files} == {"manifested"}  # stranded
    assert [i for i in env.items(DAY) if i["file_key"].startswith("CLAIM#")]
    assert env.manifest_items(DAY) == [] and env.executions() == []

    env.clock.advance(600)  # inside the grace period: the claim may still be alive
    result = invoke(app, {"action": "flush"})
    assert result["repaired_rolled_back"] == [] and result["started"] == []

    env.clock.advance(400)
    result = invoke(app, {"action": "flush"})
    assert len(result["repaired_rolled_back"]) == 1
    assert len(result["started"]) == 1  # the same flush batches the files again
    [execution] = env.executions()
    [manifest_item] = env.manifest_items(DAY)
    assert execution["name"] == manifest_item["manifest_id"] == result["started"][0]
    assert {f["manifest_id"] for f in env.files(DAY)} == {manifest_item["manifest_id"]}
    assert not [i for i in env.items(DAY) if i["file_key"].startswith("CLAIM#")]
    [manifest] = env.manifest_objects()  # the stranded manifest (if any) is gone, one remains
    assert len(manifest["entries"]) == 3


def test_crash_after_start_before_record_writes_the_missing_manifest_item(env):
    app = env.app(max_files_per_manifest=2, repair_grace_seconds=960)
    ddb = app.service.table._client
    kill_on(ddb, "UpdateItem", when=lambda p: p["Key"]["file_key"]["S"].startswith("MANIFEST#"))
    with pytest.raises(Killed):
        invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    [execution] = env.executions()
    assert env.manifest_items(DAY) == []

    env.clock.advance(1000)
    result = invoke(app, {"action": "flush"})
    assert result["repaired_recorded"] == [execution["name"]]
    assert result["started"] == []  # the files stay with the running execution
    [manifest_item] = env.manifest_items(DAY)
    assert manifest_item["execution_arn"] == execution["executionArn"]
    assert manifest_item["file_count"] == "2" and manifest_item["status"] == "pending"
    assert {f["status"] for f in env.files(DAY)} == {"manifested"}
    counter = next(i for i in env.items(DAY) if i["file_key"] == "META#PENDING")
    assert counter["pending_count"] == "0" and counter["pending_bytes"] == "0"
    assert len(env.executions()) == 1
    # a second flush has nothing left to repair
    assert invoke(app, {"action": "flush"})["repaired_recorded"] == []


def test_rollback_only_touches_files_still_claimed_by_that_manifest(env):
    """A stale rollback must not steal a file that meanwhile belongs to another manifest."""
    app = env.app(max_files_per_manifest=1)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson")))
    [item] = env.files(DAY)
    released = app.service.table.release_file(
        DAY, item["file_key"], item["created_at"], "2026-11-20-000000-000000000000", "2026-11-22T05:00:00Z", 1
    )
    assert released is False
    assert env.files(DAY)[0]["status"] == "manifested"


def test_repair_survives_a_403_for_the_manifest_object(env):
    """Real S3 answers 403 AccessDenied (not 404) for a missing key when the role lacks s3:ListBucket: the flush
    still records the started manifest (from its claimed files) and says why, instead of failing on that claim."""
    app = env.app(max_files_per_manifest=2, repair_grace_seconds=960)
    ddb = app.service.table._client
    kill_on(ddb, "UpdateItem", when=lambda p: p["Key"]["file_key"]["S"].startswith("MANIFEST#"))
    with pytest.raises(Killed):
        invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    [execution] = env.executions()
    inject_error(app.service.store._client, "GetObject", "AccessDenied")

    env.clock.advance(1000)
    result = invoke(app, {"action": "flush"})
    assert result["repaired_recorded"] == [execution["name"]]
    [manifest_item] = env.manifest_items(DAY)
    assert manifest_item["file_count"] == "2" and manifest_item["execution_arn"] == execution["executionArn"]
    [warning] = [r for r in env.logs() if r.get("error") == "ManifestNotReadable"]
    assert "s3:ListBucket" in warning["cause"]


def test_manifest_store_tells_403_from_404(env):
    """404: the manifest does not exist (None); 403: missing or not permitted, a named error with the fix."""
    app = env.app()
    store = app.service.store
    path = store.path_for(DAY, "no-such-manifest")
    assert store.get(path) is None
    inject_error(store._client, "GetObject", "AccessDenied")
    with pytest.raises(ManifestNotReadable, match="s3:ListBucket"):
        store.get(path)
