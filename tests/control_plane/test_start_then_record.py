"""Start, then record: failures of StartExecution roll the claim back; retries are idempotent."""

from __future__ import annotations

import pytest

from pipeline.control_plane.bootstrap import handle_event

from .conftest import LambdaContext, inject_error, s3_record, sqs_event

DAY = "2026-11-20"


def invoke(app, event):
    return handle_event(app, event, LambdaContext())


def assert_rolled_back(env, files_expected):
    files = env.files(DAY)
    assert len(files) == files_expected
    assert {f["status"] for f in files} == {"pending"}
    assert all("manifest_id" not in f for f in files)
    assert all(f["pending_key"].startswith(f"{DAY}#") for f in files)  # back in the pending index
    items = env.items(DAY)
    assert not [i for i in items if i["file_key"].startswith(("MANIFEST#", "CLAIM#"))]
    assert env.manifest_objects() == []
    assert env.executions() == []


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "ExecutionLimitExceeded"])
def test_start_failure_rolls_back_and_a_later_trigger_retries(env, code):
    app = env.app(max_files_per_manifest=3)
    sfn = app.service.executions._client
    failures = inject_error(sfn, "StartExecution", code, times=None)
    response = invoke(app, sqs_event(*[s3_record(f"raw/{DAY}/{i}.ndjson") for i in range(3)]))
    # the messages themselves succeeded: their files are tracked
    assert response == {"batchItemFailures": []}
    assert failures.count >= 1
    if code == "ThrottlingException":
        assert failures.count > 1  # retried with backoff before giving up
    else:
        assert failures.count == 1  # permanent errors are not retried
    assert_rolled_back(env, 3)
    errors = [line for line in env.logs() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["error"] == "ExecutionStartFailed" and code in errors[0]["cause"]
    assert errors[0]["files_rolled_back"] == 3

    # the fault clears: the next notification for that date starts the batch
    failures.stop()
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/late.ndjson")))
    [execution] = env.executions()
    [manifest] = env.manifest_items(DAY)
    assert manifest["execution_arn"] == execution["executionArn"]
    statuses = [f["status"] for f in env.files(DAY)]
    assert statuses.count("manifested") == 3 and statuses.count("pending") == 1


def test_transient_throttling_is_retried_within_the_invocation(env):
    app = env.app(max_files_per_manifest=2)
    failures = inject_error(app.service.executions._client, "StartExecution", "ThrottlingException", times=2)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    assert failures.count == 2
    assert len(env.executions()) == 1 and len(env.manifest_items(DAY)) == 1
    assert not [line for line in env.logs() if line["level"] == "ERROR"]


def test_start_that_succeeded_but_looked_failed_is_idempotent(env):
    """The first StartExecution reaches Step Functions but its answer is lost (throttled on the way back):
    the retry with the same name meets ExecutionAlreadyExists and takes the existing execution."""
    app = env.app(max_files_per_manifest=2)
    sfn = app.service.executions._client
    lost = [0]

    def lose_answer(http_response, parsed, model, **_):
        if lost[0] == 0:
            lost[0] += 1
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "lost"}}, "StartExecution")

    sfn.meta.events.register("after-call.sfn.StartExecution", lose_answer)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    [execution] = env.executions()
    [manifest] = env.manifest_items(DAY)
    assert execution["name"] == manifest["manifest_id"]
    assert manifest["execution_arn"] == execution["executionArn"]


def test_manifest_write_failure_rolls_back_too(env):
    app = env.app(max_files_per_manifest=2)
    inject_error(app.service.store._client, "PutObject", "AccessDenied")
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    assert_rolled_back(env, 2)


def test_execution_input_matches_the_state_machine_contract(env):
    import json

    app = env.app(max_files_per_manifest=2)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    [execution] = env.executions()
    described = env.sfn.describe_execution(executionArn=execution["executionArn"])
    payload = json.loads(described["input"])
    assert set(payload) == {"manifest_id", "manifest_path", "date_prefix", "file_count", "file_key"}
    assert payload["file_key"] == f"MANIFEST#{payload['manifest_id']}"
    assert payload["manifest_path"] == f"s3://manifest-bucket/manifests/{DAY}/{payload['manifest_id']}.json"
    assert payload["file_count"] == 2 and payload["date_prefix"] == DAY


def test_manifest_item_does_not_clobber_the_state_machine_status(env):
    """If the state machine marks the MANIFEST item processing before the Lambda records it, the record keeps
    'processing' (documented condition of the state machine's update)."""
    app = env.app(max_files_per_manifest=1)
    ddb = app.service.table._client

    def state_machine_marks_first(params, **_):
        key = params.get("Key", {}).get("file_key", {}).get("S", "")
        if key.startswith("MANIFEST#") and "execution_arn" in params.get("UpdateExpression", ""):
            env.ddb.update_item(
                TableName="tracking",
                Key={"date_prefix": {"S": DAY}, "file_key": {"S": key}},
                UpdateExpression="SET #s = :processing",
                ConditionExpression="attribute_not_exists(#s) OR #s IN (:pending, :processing)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":processing": {"S": "processing"},
                    ":pending": {"S": "pending"},
                },
            )

    ddb.meta.events.register("before-parameter-build.dynamodb.UpdateItem", state_machine_marks_first)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson")))
    [manifest] = env.manifest_items(DAY)
    assert manifest["status"] == "processing" and manifest["execution_arn"]


def test_start_whose_every_answer_is_lost_is_found_before_any_rollback(env):
    """Retries exhausted on an ambiguous error (the request may have reached Step Functions): the builder looks
    the execution up by name and records it instead of rolling back a running batch."""
    from botocore.exceptions import ClientError

    app = env.app(max_files_per_manifest=2)
    sfn = app.service.executions._client
    answers_lost = []

    def lose_every_answer(http_response, parsed, model, **_):
        answers_lost.append(1)
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "lost"}}, "StartExecution")

    sfn.meta.events.register("after-call.sfn.StartExecution", lose_every_answer)
    invoke(app, sqs_event(s3_record(f"raw/{DAY}/a.ndjson"), s3_record(f"raw/{DAY}/b.ndjson")))
    assert len(answers_lost) > 1
    [execution] = env.executions()
    [manifest] = env.manifest_items(DAY)
    assert manifest["execution_arn"] == execution["executionArn"]
    assert {f["status"] for f in env.files(DAY)} == {"manifested"}
    assert not [line for line in env.logs() if line["level"] == "ERROR"]
