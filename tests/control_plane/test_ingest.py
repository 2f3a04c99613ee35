"""Tracking and batching through the handler, against moto in-process."""

from __future__ import annotations

import json

from pipeline.control_plane.bootstrap import handle_event

from .conftest import LambdaContext, s3_record, sqs_event, sqs_message

DAY = "2026-11-20"


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def test_duplicates_and_redeliveries_are_no_ops(env):
    app = env.app()
    record = s3_record(f"raw/{DAY}/a.ndjson", etag="same")
    message = sqs_message({"Records": [record]}, message_id="m-1")
    assert invoke(app, {"Records": [message]}) == {"batchItemFailures": []}
    # the same notification again (S3 duplicate) and the same SQS message redelivered
    assert invoke(app, {"Records": [sqs_message({"Records": [record]}), message]}) == {
        "batchItemFailures": []
    }
    files = env.files(DAY)
    assert len(files) == 1 and files[0]["status"] == "pending"
    counter = next(i for i in env.items(DAY) if i["file_key"] == "META#PENDING")
    assert counter["pending_count"] == "1"
    tracked_lines = [line for line in env.logs() if line["message"] == "file tracked"]
    assert len(tracked_lines) == 1


def test_reupload_with_new_etag_is_new_data(env):
    app = env.app(max_files_per_manifest=2)
    key = f"raw/{DAY}/a.ndjson"
    invoke(app, sqs_event(s3_record(key, etag="v1")))
    invoke(app, sqs_event(s3_record(key, etag="v2")))
    files = env.files(DAY)
    assert sorted(f["etag"] for f in files) == ["v1", "v2"]
    # both contents are tracked and batched; the manifest lists the object once (it holds the newest content)
    assert {f["status"] for f in files} == {"manifested"}
    [manifest] = env.manifest_objects()
    assert [e["url"] for e in manifest["entries"]] == [f"s3://input-bucket/{key}"]


def test_reupload_after_completion_is_processed_again(env):
    app = env.app(max_files_per_manifest=1)
    key = f"raw/{DAY}/a.ndjson"
    invoke(app, sqs_event(s3_record(key, etag="v1")))
    [first] = env.manifest_items(DAY)
    invoke(
        app,
        {
            "action": "complete",
            "manifest_id": first["manifest_id"],
            "date_prefix": DAY,
            "status": "completed",
        },
    )
    invoke(app, sqs_event(s3_record(key, etag="v1")))  # late duplicate: nothing
    assert len(env.executions()) == 1
    invoke(app, sqs_event(s3_record(key, etag="v2")))
    assert len(env.executions()) == 2
    statuses = sorted((f["etag"], f["status"]) for f in env.files_as_read(DAY))
    assert statuses == [("v1", "completed"), ("v2", "manifested")]


def test_encoded_keys_are_decoded_everywhere(env):
    app = env.app(max_files_per_manifest=4)
    keys = [
        f"raw/{DAY}/with space.ndjson",
        f"raw/{DAY}/plus+sign.ndjson",
        f"raw/{DAY}/100% done.jsonl",
        f"raw/{DAY}/café ✓ 東京.json.gz",
    ]
    assert invoke(app, sqs_event(*[s3_record(k) for k in keys])) == {"batchItemFailures": []}
    assert sorted(f["key"] for f in env.files(DAY)) == sorted(keys)
    [manifest] = env.manifest_objects()
    assert sorted(e["url"] for e in manifest["entries"]) == sorted(f"s3://input-bucket/{k}" for k in keys)


def test_same_file_name_in_different_folders_does_not_collide(env):
    app = env.app()
    invoke(app, sqs_event(s3_record(f"a/{DAY}/x.ndjson", etag="e"), s3_record(f"b/{DAY}/x.ndjson", etag="e")))
    assert sorted(f["key"] for f in env.files(DAY)) == [f"a/{DAY}/x.ndjson", f"b/{DAY}/x.ndjson"]


def test_date_extraction_variants_and_fallback(env):
    app = env.app()
    invoke(
        app,
        sqs_event(
            s3_record("x/dt=2026-11-01/a.ndjson"),
            s3_record("x/year=2026/month=10/day=31/a.ndjson"),
            s3_record("x/2026-10-30/a.ndjson"),
            s3_record("x/undated/a.ndjson", event_time="2026-09-09T23:59:59.000Z"),
        ),
    )
    for day in ("2026-11-01", "2026-10-31", "2026-10-30", "2026-09-09"):
        assert len(env.files(day)) == 1, day


def test_threshold_by_count(env):
    app = env.app(max_files_per_manifest=3, max_bytes_per_manifest=10**9)
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(2)]))
    assert env.executions() == []
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(2, 7)]))
    # 7 files: two full batches of 3 started, one file waits
    assert len(env.executions()) == 2
    statuses = [f["status"] for f in env.files(DAY)]
    assert statuses.count("manifested") == 6 and statuses.count("pending") == 1
    assert sorted(m["file_count"] for m in env.manifest_items(DAY)) == ["3", "3"]


def test_threshold_by_bytes(env):
    app = env.app(max_files_per_manifest=100, max_bytes_per_manifest=1000)
    invoke(
        app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson", size=400), s3_record(f"raw/{DAY}/b.ndjson", size=400))
    )
    assert env.executions() == []
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/c.ndjson", size=400)))
    # 1200 pending bytes: a batch of 800 (the next file would pass 1000) starts, 400 wait
    [manifest] = env.manifest_items(DAY)
    assert manifest["total_bytes"] == "800" and manifest["file_count"] == "2"
    assert [f["status"] for f in env.files(DAY)].count("pending") == 1


def test_partial_batch_waits_for_age_then_flush_starts_it(env):
    app = env.app(max_files_per_manifest=10, max_batch_wait_seconds=300)
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]))
    env.clock.advance(299)
    assert invoke(app, {"action": "flush"})["started"] == []
    env.clock.advance(1)
    result = invoke(app, {"action": "flush"})
    assert len(result["started"]) == 1 and result["dates_with_pending_files"] == [DAY]
    assert {f["status"] for f in env.files(DAY)} == {"manifested"}
    # nothing left: a further flush is a no-op
    assert invoke(app, {"action": "flush"}) == {
        "started": [],
        "repaired_recorded": [],
        "repaired_rolled_back": [],
        "dates_with_pending_files": [],
    }


def test_eventbridge_schedule_is_a_flush(env):
    app = env.app(max_batch_wait_seconds=0)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson")))
    result = invoke(app, {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
    assert len(result["started"]) == 1


def test_batches_never_mix_dates(env):
    app = env.app(max_files_per_manifest=4, max_batch_wait_seconds=0)
    records = [s3_record(f"raw/2026-11-0{d}/{i}.ndjson") for d in (1, 2) for i in range(3)]
    invoke(app, sqs_event(*records))
    result = invoke(app, {"action": "flush"})
    assert len(result["started"]) == 2
    for manifest in env.manifest_objects():
        days = {e["url"].split("/")[4] for e in manifest["entries"]}
        assert days == {manifest["date_prefix"]}


def test_poison_messages_fail_alone(env):
    app = env.app()
    good = sqs_message({"Records": [s3_record(f"raw/{DAY}/good.ndjson")]}, message_id="good")
    not_json = sqs_message("this is { not json", message_id="not-json")
    not_s3 = sqs_message({"Records": [{"eventSource": "aws:dynamodb"}]}, message_id="not-s3")
    suffix = sqs_message({"Records": [s3_record(f"raw/{DAY}/table.csv")]}, message_id="csv")
    test_event = sqs_message(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "x"}, message_id="test"
    )
    removed = sqs_message(
        {"Records": [s3_record(f"raw/{DAY}/gone.ndjson", event_name="ObjectRemoved:Delete")]}, message_id="rm"
    )
    response = invoke(app, {"Records": [good, not_json, not_s3, suffix, test_event, removed]})
    # only the malformed ones are retried (and end in the DLQ); the csv, the test event and the delete are acked
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["not-json", "not-s3"]
    assert [f["key"] for f in env.files(DAY)] == [f"raw/{DAY}/good.ndjson"]
    logs = env.logs()
    assert any(line["message"] == "ignored object with unsupported suffix" for line in logs)
    rejected = [line for line in logs if line["message"] == "message rejected"]
    assert {line["message_id"] for line in rejected} == {"not-json", "not-s3"}
    assert all(line["error"] == "InvalidEvent" for line in rejected)
    assert "this is { not json" not in json.dumps(logs)


def test_unsupported_invocation_is_a_named_error(env):
    import pytest

    from pipeline.contracts.errors import InvalidEvent

    with pytest.raises(InvalidEvent, match="unsupported event"):
        invoke(env.app(), {"hello": "world"})


def test_dynamodb_throttling_is_retried_and_a_persistent_one_fails_only_its_message(env):
    from .conftest import inject_error

    app = env.app()
    ddb = app.service.table._client
    brief = inject_error(ddb, "PutItem", "ProvisionedThroughputExceededException", times=2)
    assert invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"))) == {"batchItemFailures": []}
    assert brief.count == 2 and len(env.files(DAY)) == 1
    brief.stop()

    stuck_key = f"raw/{DAY}/stuck.ndjson"
    persistent = inject_error(
        ddb,
        "PutItem",
        "ThrottlingException",
        when=lambda params: params.get("Item", {}).get("key", {}).get("S") == stuck_key,
    )
    stuck = sqs_message({"Records": [s3_record(stuck_key)]}, message_id="stuck")
    fine = sqs_message({"Records": [s3_record(f"raw/{DAY}/b.ndjson")]}, message_id="fine")
    response = invoke(app, {"Records": [stuck, fine]})
    assert response == {"batchItemFailures": [{"itemIdentifier": "stuck"}]}
    assert persistent.count > 1  # retried before giving the message back to SQS
    persistent.stop()
    assert invoke(app, {"Records": [stuck]}) == {"batchItemFailures": []}  # the redelivery succeeds
    assert sorted(f["key"] for f in env.files(DAY)) == sorted(
        [f"raw/{DAY}/a.ndjson", f"raw/{DAY}/b.ndjson", stuck_key]
    )


def test_manifests_per_invocation_are_capped_and_the_flush_takes_the_rest(env):
    app = env.app(max_files_per_manifest=2, max_manifests_per_invocation=1, manifest_prefix="batches/")
    invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(6)]))
    assert len(env.executions()) == 1
    assert invoke(app, {"action": "flush"})["started"]  # full batches need no waiting
    invoke(app, {"action": "flush"})
    assert len(env.executions()) == 3
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket="manifest-bucket")["Contents"]]
    assert all(k.startswith(f"batches/{DAY}/") and k.endswith(".json") for k in keys)


def test_a_held_lease_defers_claiming_until_it_expires(env):
    app = env.app(max_files_per_manifest=2)
    now = int(env.clock().timestamp())
    assert app.service.table.acquire_lease(DAY, "someone-else", now, now + 60)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    assert env.executions() == []  # the holder is batching this date
    env.clock.advance(61)
    invoke(app, {"action": "flush"})
    assert len(env.executions()) == 1
