"""IAM enforced in the embedded AWS (pipeline/embedded/iam.py, bridges/iam.py): a role's identity policy decides,
a denial names principal, action and resource, and is recorded. One embedded AWS, no Terraform."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipeline.embedded.bridges import iam as iam_bridges
from pipeline.embedded.iam import IamAccessDenied, IamEnforcement
from pipeline.embedded.server import DUMMY_CREDENTIALS, REGION, EmbeddedAws

BUCKET = "h5-iam-bucket"
TABLE = "h5-iam-table"
ACCOUNT = "123456789012"
ROLE = "h5-iam-component-role"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/mine/*",
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:ConditionCheckItem"],
            "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}",
        },
        {
            "Effect": "Allow",
            "Action": "sqs:ListQueues",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
    ],
}


@pytest.fixture(scope="module")
def enforced() -> Iterator[dict[str, Any]]:
    with EmbeddedAws() as aws:
        setup = aws.client("iam")
        role = setup.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        setup.put_role_policy(RoleName=ROLE, PolicyName="component", PolicyDocument=json.dumps(POLICY))
        aws.client("s3").create_bucket(Bucket=BUCKET)
        aws.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        enforcement = IamEnforcement(aws.endpoint_url, REGION, DUMMY_CREDENTIALS)
        admin = enforcement.create_admin()
        component = enforcement.assume(role, "component")
        enforcement.enable()
        try:
            yield {
                "enforcement": enforcement,
                "component": lambda service: component.session(REGION).client(
                    service, endpoint_url=aws.endpoint_url
                ),
                "admin": lambda service: admin.session(REGION).client(service, endpoint_url=aws.endpoint_url),
                "dummy": aws.client,
                "admin_keys": admin,
            }
        finally:
            enforcement.disable()


@pytest.fixture(autouse=True)
def _no_denials_left() -> Iterator[None]:
    iam_bridges.clear_denials()
    yield
    iam_bridges.clear_denials()


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), raised.value
    return str(raised.value)


def test_what_the_role_allows_passes_and_what_it_does_not_is_denied_by_name(enforced: dict[str, Any]) -> None:
    s3 = enforced["component"]("s3")
    s3.put_object(Bucket=BUCKET, Key="mine/a.json", Body=b"{}")
    assert s3.get_object(Bucket=BUCKET, Key="mine/a.json")["Body"].read() == b"{}"
    message = _denied(lambda: s3.put_object(Bucket=BUCKET, Key="theirs/a.json", Body=b"{}"))
    assert f"assumed-role/{ROLE}/component" in message
    assert f"s3:PutObject on resource: arn:aws:s3:::{BUCKET}/theirs/a.json" in message
    denial = iam_bridges.denials()[-1]
    assert (denial.role, denial.action) == (ROLE, "s3:PutObject")


def test_a_resource_scoped_allow_works_for_services_moto_names_no_resource_for(
    enforced: dict[str, Any],
) -> None:
    dynamodb = enforced["component"]("dynamodb")
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "x"}})
    message = _denied(lambda: dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "x"}}))
    assert "dynamodb:PutItem" in message and ROLE in message


def test_a_transaction_is_checked_per_item_action(enforced: dict[str, Any]) -> None:
    """AWS has no dynamodb:TransactWriteItems action: it checks ConditionCheckItem, UpdateItem... per item."""
    dynamodb = enforced["component"]("dynamodb")
    check = {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "x"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    update = {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": "y"}},
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"S": "1"}},
        }
    }
    message = _denied(lambda: dynamodb.transact_write_items(TransactItems=[check, update]))
    assert "dynamodb:UpdateItem" in message and "TransactWriteItems on" not in message
    assert iam_bridges.denials()[-1].action == "dynamodb:UpdateItem"
    dynamodb.transact_write_items(TransactItems=[check])  # the role's ConditionCheckItem allows it


def test_an_allow_with_a_condition_is_an_allow(enforced: dict[str, Any]) -> None:
    enforced["component"]("sqs").list_queues()  # moto alone turns this Allow into a deny


def test_delete_objects_is_checked_per_key(enforced: dict[str, Any]) -> None:
    s3 = enforced["component"]("s3")
    s3.put_object(Bucket=BUCKET, Key="mine/b.json", Body=b"{}")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "mine/b.json"}]})
    enforced["admin"]("s3").put_object(Bucket=BUCKET, Key="theirs/b.json", Body=b"{}")
    # AWS reports the denied key in the answer's Errors; the bridge denies the request, naming the key.
    message = _denied(
        lambda: s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": "mine/a.json"}, {"Key": "theirs/b.json"}]}
        )
    )
    assert f"s3:DeleteObject on resource: arn:aws:s3:::{BUCKET}/theirs/b.json" in message


def test_the_admin_signs_bodiless_gets_and_the_dummy_keys_are_refused(enforced: dict[str, Any]) -> None:
    assert isinstance(
        enforced["admin"]("lambda").list_functions()["Functions"], list
    )  # a GET: moto's signature bug
    with pytest.raises(ClientError) as raised:
        enforced["dummy"]("dynamodb").list_tables()
    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_raise_if_denied_names_every_denial(enforced: dict[str, Any]) -> None:
    _denied(lambda: enforced["component"]("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": "x"}}))
    with pytest.raises(IamAccessDenied) as raised:
        enforced["enforcement"].raise_if_denied()
    assert "dynamodb:DeleteItem" in str(raised.value) and f"(role {ROLE})" in str(raised.value)


def test_a_function_without_its_role_credentials_is_refused_not_run_as_the_harness(
    enforced: dict[str, Any],
) -> None:
    import io
    import zipfile

    from pipeline.embedded.bridges import LambdaFunctionError
    from pipeline.embedded.lambda_runner import LambdaRunner
    from pipeline.embedded.server import set_harness_credentials

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest_builder.py", "")
    admin_lambda = enforced["admin"]("lambda")
    admin_lambda.create_function(
        FunctionName="h5-iam-unroled",
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
        Handler="manifest_builder.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    keys = enforced["admin_keys"]
    set_harness_credentials(keys.access_key_id, keys.secret_access_key)
    try:
        runner = LambdaRunner(
            admin_lambda.meta.endpoint_url, region=REGION, role_environment={"another-function": {"A": "B"}}
        )
        with pytest.raises(LambdaFunctionError) as raised:
            runner.invoke("h5-iam-unroled", b"{}")
    finally:
        set_harness_credentials(None, None)
    assert raised.value.error_type == "EmbeddedRoleMissing", raised.value
