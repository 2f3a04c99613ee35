from __future__ import annotations

from pipeline.lambda_app import handle_event

from .conftest import LambdaContext, s3_record, sqs_event


def test_full_batch_starts_one_manifest_then_records(env):
    app = env.app()
    keys = [f"raw/2026-11-20/part-{i}.ndjson" for i in range(5)]
    response = handle_event(app, sqs_event(*[s3_record(k) for k in keys]), LambdaContext())
    assert response == {"batchItemFailures": []}
    executions = env.executions()
    assert len(executions) == 1
    manifests = env.manifest_items("2026-11-20")
    assert len(manifests) == 1
    m = manifests[0]
    assert m["status"] == "pending"
    assert m["execution_arn"] == executions[0]["executionArn"]
    assert executions[0]["name"] == m["manifest_id"]
    files = env.files("2026-11-20")
    assert {f["status"] for f in files} == {"manifested"}
    assert {f["manifest_id"] for f in files} == {m["manifest_id"]}
    objects = env.manifest_objects()
    assert len(objects) == 1
    assert sorted(e["url"] for e in objects[0]["entries"]) == sorted(f"s3://input-bucket/{k}" for k in keys)
