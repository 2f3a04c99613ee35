"""What the embedded AWS's IAM check cannot see, checked on the policies Terraform rendered (docs/iam.md).

moto evaluates identity policies only (and, through the embedded bridges, by action for every service but S3 and
SQS): it evaluates no key policy, no resource policy and no condition. These tests read the policies from the
applied stack's Terraform state (the package's one apply, tests/infra/conftest.py) and check:

- every service principal that writes to a resource encrypted with the stack's key is allowed to use that key by
  the key policy (S3 -> SQS, CloudWatch alarms -> SNS, CloudWatch Logs, Step Functions' log delivery);
- every resource an identity policy names exists in the stack (a typo moto's action-only check would miss);
- the number of wildcard actions and `*` resources does not grow, each with its reason (WILDCARDS).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.terraform

# Every wildcard in the stack's identity policies and why it is there: (policy owner, statement sid or action,
# the wildcard) -> reason. A new wildcard fails test_wildcards_do_not_grow until it is listed here with a reason.
WILDCARDS: dict[tuple[str, str], str] = {
    (
        "action",
        "kms:ReEncrypt*",
    ): "ReEncryptFrom and ReEncryptTo: both are needed to re-encrypt with the stack key",
    ("resource", "xray:PutTraceSegments"): "X-Ray supports no resource-level permissions (only `*` is valid)",
    (
        "resource",
        "xray:PutTelemetryRecords",
    ): "X-Ray supports no resource-level permissions (only `*` is valid)",
    ("resource", "xray:GetSamplingRules"): "X-Ray supports no resource-level permissions (only `*` is valid)",
    (
        "resource",
        "xray:GetSamplingTargets",
    ): "X-Ray supports no resource-level permissions (only `*` is valid)",
    **{
        (
            "resource",
            f"logs:{action}",
        ): "Step Functions' logging to CloudWatch Logs: the log-delivery actions "
        "support no resource-level permissions (Step Functions guide, 'IAM policies for logging to CloudWatch Logs')"
        for action in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
    (
        "resource",
        "cloudwatch:PutMetricData",
    ): "no resource-level permissions; scoped by the cloudwatch:namespace condition",
    (
        "resource",
        "cloudwatch:GetMetricData",
    ): "the operators' `pipeline status` reads the stack's metrics; GetMetricData supports no resource-level "
    "permissions (only `*` is valid)",
}
# Resources created by AWS itself, not by Terraform: an identity policy may name them although the state cannot.
CREATED_BY_AWS = (
    re.compile(r"^arn:aws:logs:[^:]+:\d+:log-group:/aws-glue/"),  # Glue creates its job log groups
    re.compile(r"^arn:aws:glue:[^:]+:\d+:catalog$"),  # the account's Data Catalog
    re.compile(r"^arn:aws:glue:[^:]+:\d+:table/"),  # the Iceberg table the job creates on its first batch
    re.compile(r"^arn:aws:states:[^:]+:\d+:execution:"),  # executions of the state machine
)


def _state(applied_stack: Any) -> dict[str, Any]:
    path = Path(applied_stack.workdir) / "terraform.tfstate"
    return json.loads(path.read_text())


def _resources(state: dict[str, Any], kind: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in state["resources"]:
        if resource["mode"] != "managed" or (kind and resource["type"] != kind):
            continue
        for instance in resource["instances"]:
            address = f"{resource.get('module', '')}.{resource['type']}.{resource['name']}".lstrip(".")
            yield address, instance["attributes"]


def _statements(document: str | dict[str, Any]) -> list[dict[str, Any]]:
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _services(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    return set(_listed(principal.get("Service"))) if isinstance(principal, dict) else set()


def _allows(statements: list[dict[str, Any]], service: str, action: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and service in _services(s)
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in _listed(s.get("Action")))
        for s in statements
    )


def _key_policy(state: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    keys = list(_resources(state, "aws_kms_key"))
    assert len(keys) == 1, f"expected the stack's one key, found {[a for a, _ in keys]}"
    return keys[0][1]["arn"], _statements(keys[0][1]["policy"])


def _writers_of_encrypted_resources(state: dict[str, Any], key_arn: str) -> dict[str, set[str]]:
    """service principal -> the KMS actions it needs on the stack key, for what it writes to encrypted resources."""
    region = state_region(state)
    needs: dict[str, set[str]] = {}
    queues = {a["arn"]: a for _, a in _resources(state, "aws_sqs_queue") if a.get("kms_master_key_id")}
    for _, queue in queues.items():
        for statement in _statements(queue.get("policy") or '{"Statement": []}'):
            if statement["Effect"] == "Allow" and "sqs:SendMessage" in _listed(statement["Action"]):
                for service in _services(statement):
                    needs.setdefault(service, set()).update({"kms:GenerateDataKey", "kms:Decrypt"})
    topics = {a["arn"] for _, a in _resources(state, "aws_sns_topic") if a.get("kms_master_key_id")}
    for _, policy in _resources(state, "aws_sns_topic_policy"):
        if policy["arn"] in topics:
            for statement in _statements(policy["policy"]):
                if statement["Effect"] == "Allow" and "sns:Publish" in _listed(statement["Action"]):
                    for service in _services(statement):
                        needs.setdefault(service, set()).update({"kms:GenerateDataKey", "kms:Decrypt"})
    if any(a.get("kms_key_id") for _, a in _resources(state, "aws_cloudwatch_log_group")):
        needs.setdefault(f"logs.{region}.amazonaws.com", set()).update(
            {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}
        )
    for _, machine in _resources(state, "aws_sfn_state_machine"):
        encrypted = any(c.get("kms_key_id") for c in machine.get("encryption_configuration") or [])
        logging = any(c.get("level") not in (None, "OFF") for c in machine.get("logging_configuration") or [])
        if encrypted and logging:
            # Step Functions' encryption-at-rest guide: log delivery decrypts execution data to write the logs.
            needs.setdefault("delivery.logs.amazonaws.com", set()).add("kms:Decrypt")
    return needs


def state_region(state: dict[str, Any]) -> str:
    for _, attributes in _resources(state, "aws_sqs_queue"):
        return str(attributes["arn"].split(":")[3])
    raise AssertionError("no queue in the state to take the region from")


def _key_policy_cases() -> list[str]:
    return ["s3.amazonaws.com", "cloudwatch.amazonaws.com", "logs", "delivery.logs.amazonaws.com"]


@pytest.mark.parametrize("writer", _key_policy_cases())
def test_every_service_writing_to_an_encrypted_resource_may_use_the_key(
    applied_stack: Any, writer: str
) -> None:
    state = _state(applied_stack)
    key_arn, key_policy = _key_policy(state)
    needs = _writers_of_encrypted_resources(state, key_arn)
    services = [s for s in needs if s == writer or s.startswith(writer + ".")]
    assert services, f"the stack has no encrypted resource {writer} writes to: {sorted(needs)}"
    for service in services:
        missing = sorted(action for action in needs[service] if not _allows(key_policy, service, action))
        assert not missing, f"the key policy does not let {service} use {missing} on {key_arn}"


def _identity_policies(state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for address, attributes in _resources(state, "aws_iam_role_policy"):
        for statement in _statements(attributes["policy"]):
            yield address, statement
    for address, attributes in _resources(state, "aws_iam_policy"):
        for statement in _statements(attributes["policy"]):
            yield address, statement


def _state_arns(state: dict[str, Any]) -> set[str]:
    """Every managed resource's ARN (the provider leaves the account out of a few when it skips requesting the
    account id, as against the embedded AWS: those get the stack's account)."""
    account = _account(state)
    arns: set[str] = set()
    for resource in state["resources"]:
        if resource["mode"] != "managed":
            continue
        for instance in resource["instances"]:
            arn = instance["attributes"].get("arn")
            if isinstance(arn, str) and arn.startswith("arn:"):
                arns.add(_with_account(arn, account))
    return arns


def _account(state: dict[str, Any]) -> str:
    return str(next(a["arn"].split(":")[4] for _, a in _resources(state, "aws_sqs_queue")))


def _with_account(arn: str, account: str) -> str:
    """The ARN with the stack's account where the embedded apply left it empty (the provider skips requesting
    the account id there, so ARNs it builds itself, e.g. a Glue job's, have none; on AWS they do)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and not parts[4] and parts[2] not in ("s3", "iam"):
        parts[4] = account
    return ":".join(parts)


def _owner_arn(resource: str) -> str:
    """The ARN of the Terraform-managed resource a policy resource pattern lies in."""
    if resource.startswith("arn:aws:s3:::"):
        return resource.split("/", 1)[0]
    resource = re.sub(r"/index/.*$", "", resource)  # a DynamoDB table's indexes
    resource = re.sub(r":\*$", "", resource)  # a log group's streams
    match = re.match(r"^(arn:aws:glue:[^:]+:\d+:)(database|table)/([^/]+)", resource)
    if match:
        return f"{match.group(1)}database/{match.group(3)}"
    return resource


def test_every_resource_an_identity_policy_names_exists_in_the_stack(applied_stack: Any) -> None:
    state = _state(applied_stack)
    arns = _state_arns(state)
    account = _account(state)
    unknown = []
    for address, statement in _identity_policies(state):
        for resource in _listed(statement.get("Resource")):
            if resource == "*" or any(p.match(resource) for p in CREATED_BY_AWS):
                continue
            owner = _owner_arn(_with_account(resource, account))
            if not any(fnmatch.fnmatchcase(arn, owner) for arn in arns):
                unknown.append(f"{address} {statement.get('Sid', '')}: {resource}")
    assert not unknown, "identity policies name resources the stack does not have:\n" + "\n".join(unknown)


def wildcards(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(policy, kind, what) for every wildcard action and every `*` resource of the identity policies."""
    found = []
    for address, statement in _identity_policies(state):
        actions = _listed(statement.get("Action"))
        for action in actions:
            if "*" in action:
                found.append((address, "action", action))
        if "*" in _listed(statement.get("Resource")):
            for action in actions:
                found.append((address, "resource", action))
    return found


def test_wildcards_do_not_grow_and_each_has_a_reason(applied_stack: Any) -> None:
    found = wildcards(_state(applied_stack))
    unexplained = sorted({(kind, what) for _, kind, what in found} - set(WILDCARDS))
    assert not unexplained, f"wildcards without a reason in WILDCARDS: {unexplained}"
    print(f"{len(found)} wildcard(s) in the identity policies:")
    for address, kind, what in sorted(found):
        print(f"  {address}: {kind} {what}: {WILDCARDS[(kind, what)]}")
