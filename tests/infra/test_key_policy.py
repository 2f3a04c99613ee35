"""What moto does not evaluate, checked on the applied configuration: key policy and resource policy conditions.

moto enforces no KMS key policy and no resource-policy condition, so a service principal missing from the key
policy only shows on a real account (encrypted SQS messages, alarms or execution logs silently dropped). These tests
read the applied Terraform state of the shared stack: every resource encrypted with the stack's key, the AWS service
principals that write to it (from the resource's own policy, or what AWS documents for the resource type), and the
key policy that must let exactly those principals use the key, each with a confused-deputy condition.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.terraform

# What each kind of writer needs from the key (AWS documentation of each service's encryption with a customer
# managed key): SQS and SNS producers a data key and Decrypt; CloudWatch Logs the encryption actions of its key
# policy example; vended log delivery (Step Functions execution logs of an encrypted state machine) Decrypt.
PRODUCER_ACTIONS = {"kms:GenerateDataKey", "kms:Decrypt"}
LOGS_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey"}
DELIVERY_ACTIONS = {"kms:Decrypt"}
CONFUSED_DEPUTY_KEYS = ("aws:SourceAccount", "aws:SourceArn", "kms:EncryptionContext:")


def _state(applied_stack) -> dict[str, Any]:
    return json.loads((applied_stack.workdir / "terraform.tfstate").read_text())


def _instances(state: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in state["resources"]:
        if resource["mode"] == "managed" and resource["type"] == resource_type:
            for instance in resource["instances"]:
                address = f"{resource.get('module', '')}.{resource['type']}.{resource['name']}"
                yield address, instance["attributes"]


def _as_list(value: object) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy: str | None) -> list[dict[str, Any]]:
    return _as_list(json.loads(policy)["Statement"]) if policy else []


def _service_principals(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    return set(_as_list(principal.get("Service"))) if isinstance(principal, dict) else set()


def _writers(state: dict[str, Any], key_names: set[str], region: str) -> dict[str, set[str]]:
    """{service principal: key actions it needs} for every resource encrypted with one of ``key_names``."""
    needs: dict[str, set[str]] = {}

    def need(principal: str, actions: set[str]) -> None:
        needs.setdefault(principal, set()).update(actions)

    logs = f"logs.{region}.amazonaws.com"
    for _, queue in _instances(state, "aws_sqs_queue"):
        if queue.get("kms_master_key_id") in key_names:
            for statement in _statements(queue.get("policy")):
                actions = {a.lower() for a in _as_list(statement["Action"])}
                if statement["Effect"] == "Allow" and "sqs:sendmessage" in actions:
                    for principal in _service_principals(statement):
                        need(principal, PRODUCER_ACTIONS)
    topic_policies = {p["arn"]: p["policy"] for _, p in _instances(state, "aws_sns_topic_policy")}
    for _, topic in _instances(state, "aws_sns_topic"):
        if topic.get("kms_master_key_id") in key_names:
            for statement in _statements(topic_policies.get(topic["arn"]) or topic.get("policy")):
                actions = {a.lower() for a in _as_list(statement["Action"])}
                if statement["Effect"] == "Allow" and "sns:publish" in actions:
                    for principal in _service_principals(statement):
                        need(principal, PRODUCER_ACTIONS)
    for _, group in _instances(state, "aws_cloudwatch_log_group"):
        if group.get("kms_key_id") in key_names:
            need(logs, LOGS_ACTIONS)
    for _, config in _instances(state, "aws_glue_security_configuration"):
        for encryption in config["encryption_configuration"]:
            for cloudwatch in encryption["cloudwatch_encryption"]:
                if (
                    cloudwatch["cloudwatch_encryption_mode"] == "SSE-KMS"
                    and cloudwatch["kms_key_arn"] in key_names
                ):
                    need(logs, LOGS_ACTIONS)
    for _, machine in _instances(state, "aws_sfn_state_machine"):
        encrypted = any(
            e["type"] == "CUSTOMER_MANAGED_KMS_KEY" and e["kms_key_id"] in key_names
            for e in machine["encryption_configuration"]
        )
        logging = any(c["level"] != "OFF" for c in machine["logging_configuration"])
        if encrypted and logging:
            need("delivery.logs.amazonaws.com", DELIVERY_ACTIONS)
    return needs


def _allows(statement: dict[str, Any], action: str) -> bool:
    return statement["Effect"] == "Allow" and any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement["Action"])
    )


def _key(applied_stack) -> tuple[dict[str, Any], set[str]]:
    state = _state(applied_stack)
    [(_, key)] = list(_instances(state, "aws_kms_key"))
    aliases = [a for _, a in _instances(state, "aws_kms_alias") if a["target_key_id"] == key["key_id"]]
    names = {key["arn"], key["key_id"], *(a["name"] for a in aliases), *(a["arn"] for a in aliases)}
    return key, names


def test_every_service_that_writes_to_an_encrypted_resource_may_use_the_key_and_no_other(
    applied_stack,
) -> None:
    state = _state(applied_stack)
    key, names = _key(applied_stack)
    region = applied_stack.variables.get("aws_region", "us-east-1")
    needs = _writers(state, names, region)
    # The stack's own writers, as found in the state: S3 -> ingest queue, alarms -> alert topic, CloudWatch Logs
    # for the log groups and Glue's security configuration, log delivery for the encrypted state machine.
    assert set(needs) == {
        "s3.amazonaws.com",
        "cloudwatch.amazonaws.com",
        f"logs.{region}.amazonaws.com",
        "delivery.logs.amazonaws.com",
    }
    statements = _statements(key["policy"])
    account = applied_stack.outputs["kms_key_arn"].split(":")[4]
    missing = []
    for principal, actions in sorted(needs.items()):
        granting = [s for s in statements if principal in _service_principals(s)]
        for action in sorted(actions):
            matching = [s for s in granting if _allows(s, action)]
            if not matching:
                missing.append(f"{principal} {action}")
            for statement in matching:
                conditions = {
                    k: v for test in statement.get("Condition", {}).values() for k, v in test.items()
                }
                scoped = [k for k in conditions if k.startswith(CONFUSED_DEPUTY_KEYS)]
                assert scoped, f"{statement.get('Sid')}: {principal} without a confused-deputy condition"
                assert all(account in json.dumps(conditions[k]) for k in scoped), (
                    statement.get("Sid"),
                    conditions,
                )
    assert missing == []
    # Least privilege: no service principal in the key policy that nothing of the stack needs.
    granted = set().union(*(_service_principals(s) for s in statements))
    assert granted == set(needs)


def test_the_brought_key_statements_output_is_the_created_key_s_service_part(applied_stack) -> None:
    key, _ = _key(applied_stack)
    output = json.loads(applied_stack.outputs["kms_key_policy_service_statements"])
    by_sid = {s.get("Sid"): s for s in _statements(key["policy"])}
    assert {s["Sid"] for s in output["Statement"]} == set(by_sid) - {"AccountAdministersKeyThroughIam"}


def test_only_the_input_bucket_of_this_account_may_send_to_the_ingest_queue(applied_stack) -> None:
    state = _state(applied_stack)
    out = applied_stack.outputs
    [queue] = [q for _, q in _instances(state, "aws_sqs_queue") if q["arn"] == out["ingest_queue_arn"]]
    [send] = [s for s in _statements(queue["policy"]) if s["Effect"] == "Allow"]
    assert _service_principals(send) == {"s3.amazonaws.com"}
    account = out["ingest_queue_arn"].split(":")[4]
    assert send["Condition"]["ArnEquals"]["aws:SourceArn"] in (
        f"arn:aws:s3:::{out['input_bucket']}",
        [f"arn:aws:s3:::{out['input_bucket']}"],
    )
    assert send["Condition"]["StringEquals"]["aws:SourceAccount"] in (account, [account])
