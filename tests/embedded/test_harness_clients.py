"""The harness's boto3 clients: one session for all of them, each client signed with the keys of its moment."""

from __future__ import annotations

import botocore.handlers
import pytest

from pipeline.embedded.server import (
    DUMMY_CREDENTIALS,
    EmbeddedAws,
    harness_client,
    set_harness_credentials,
)


@pytest.fixture(scope="module")
def aws():
    with EmbeddedAws() as embedded:
        yield embedded


def test_clients_share_the_parsed_service_data_and_keep_their_own_keys(aws) -> None:
    """A session per client parsed botocore's JSON again for each (100-160 ms of CPU a client in the process that
    serves moto): the clients now come from one session, and each still signs with the harness keys of the moment
    it was made, never the process environment's."""
    first = harness_client("dynamodb", aws.endpoint_url)
    set_harness_credentials("AKIAHARNESSTEST", "harness-secret")
    try:
        second = harness_client("dynamodb", aws.endpoint_url)
    finally:
        set_harness_credentials(None, None)
    assert first.meta.service_model._service_description is second.meta.service_model._service_description
    assert first._request_signer._credentials.access_key == DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert second._request_signer._credentials.access_key == "AKIAHARNESSTEST"
    assert second._request_signer._credentials.token is None
    # real calls through the shared session's clients; moto's backends are per process and other test modules on
    # this worker may have left tables, so look for our own table only
    name = "harness-clients-probe"
    second.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        assert name in first.list_tables()["TableNames"]
    finally:
        first.delete_table(TableName=name)


class _Seen:
    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model, **_: object) -> None:
        self.operations.append(model.name)


def test_an_observer_appended_to_the_built_in_handlers_later_sees_the_next_clients_calls(aws) -> None:
    """Sessions copy botocore's BUILTIN_HANDLERS when they are made (the reliability tests' fault injector and the
    load bench's call counter are appended there): one appended after the shared session exists still sees the
    calls of the clients made after it."""
    harness_client("sqs", aws.endpoint_url).list_queues()
    seen = _Seen()
    spec = ("before-call.sqs", seen)
    botocore.handlers.BUILTIN_HANDLERS.append(spec)
    try:
        harness_client("sqs", aws.endpoint_url).list_queues()
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(spec)
    assert seen.operations == ["ListQueues"]
