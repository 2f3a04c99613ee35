"""Bridges that make moto's IAM check usable for the stack's least-privilege policies (docs/iam.md).

moto evaluates the caller's identity policies when its authorization is on (`INITIAL_NO_AUTH_ACTION_COUNT`), but:

- `iam-resource-unnamed`: for every service except S3, SQS, IAM and STS it checks the request against the resource
  `*`, so a statement naming its resource (`arn:aws:dynamodb:...:table/t`) never matches and every least-privilege
  policy denies. The bridge checks the action only when moto names no resource (the statement's resources are
  covered by the static test of the rendered policies instead, tests/infra/test_iam_static.py).
- `iam-conditions-unevaluated`: moto evaluates no condition key of an identity policy: an Allow with a Condition
  becomes a DENY. The bridge evaluates an Allow without its condition and ignores a conditional Deny.
- `iam-action-names`: moto names some actions after the API operation, not the IAM action (`lambda:Invoke` for
  `lambda:InvokeFunction`, `sqs:SendMessageBatch` for `sqs:SendMessage`), and CloudWatch's after its endpoint
  prefix (`monitoring:GetMetricData` for `cloudwatch:GetMetricData`): the bridge maps them.
- `iam-action-names` also covers DynamoDB's TransactWriteItems: moto checks `dynamodb:TransactWriteItems`, an action
  IAM does not have; AWS checks the action of each item (`dynamodb:ConditionCheckItem`, `dynamodb:UpdateItem`): so
  does the bridge.
- `iam-delete-objects-per-key`: moto checks S3 DeleteObjects as `s3:DeleteObject` on the bucket; AWS checks it
  on each object the request deletes: the bridge checks each key.
- `iam-signature-bodiless-requests`: moto recomputes the signature of a GET without a body (Lambda's)
  over its parsed parameters instead of the empty body the client signed: every such request failed with
  SignatureDoesNotMatch.
- `iam-denial-detail`: moto's AccessDenied names no resource (S3's names nothing at all): the bridge raises AWS's
  message, `User: <principal> is not authorized to perform: <action> on resource: <resource>`, and records every
  denial (`denials()`), so a run can name what the policy lacks even when the caller swallowed the error.
- `sfn-service-credentials`: the Step Functions interpreter signs its service calls with the fixed key `ak`: the
  bridge signs them with the credentials `set_stepfunctions_credentials` gives (the state machine's role).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.embedded.bridges.check import mark_installed, require, require_method

logger = logging.getLogger(__name__)

# moto's action name -> the IAM action AWS checks (only those that differ and the stack uses).
ACTION_NAMES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    # SQS authorizes its batch APIs as the single-message action (IAM has no *Batch action)
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    # S3 authorizes HeadBucket as s3:ListBucket (botocore sends one after a 400 to find the bucket's region)
    "s3:HeadBucket": "s3:ListBucket",
}

# moto's service prefix -> IAM's, where they differ (moto takes the endpoint prefix: CloudWatch's is `monitoring`).
SERVICE_PREFIXES_TO_IAM = {"monitoring": "cloudwatch"}
SERVICE_PREFIXES = tuple(f"{prefix}:" for prefix in SERVICE_PREFIXES_TO_IAM)


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str

    @property
    def role(self) -> str:
        """The role name of an assumed-role principal (else the principal)."""
        if ":assumed-role/" in self.principal:
            return self.principal.split(":assumed-role/", 1)[1].split("/", 1)[0]
        return self.principal

    def sentence(self) -> str:
        return (
            f"User: {self.principal} is not authorized to perform: {self.action} on resource: {self.resource}"
        )


_denials: list[Denial] = []
_denials_lock = threading.Lock()
_sfn_credentials: dict[str, str] | None = None


def denials() -> list[Denial]:
    """Every AccessDenied the embedded AWS answered since the last `clear_denials()`."""
    with _denials_lock:
        return list(_denials)


def clear_denials() -> None:
    with _denials_lock:
        _denials.clear()


def set_stepfunctions_credentials(credentials: dict[str, str] | None) -> None:
    """Credentials (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) the Step Functions
    interpreter signs its service calls with; None: moto's own fixed key."""
    global _sfn_credentials
    _sfn_credentials = dict(credentials) if credentials else None


def bridge_iam_identity_policies() -> None:
    from moto.iam.access_control import IAMPolicyStatement

    name = "iam-resource-unnamed+iam-conditions-unevaluated"
    original = require_method(IAMPolicyStatement, "is_action_permitted", name)

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        statement = self._statement
        if principal is not None:  # a trust policy (sts:AssumeRole): moto's own evaluation
            return original(self, action, resource, principal, incoming_condition_values)
        relaxed = dict(statement)
        if "Condition" in relaxed:
            if relaxed.get("Effect") != "Allow":
                from moto.iam.access_control import PermissionResult

                return PermissionResult.NEUTRAL
            relaxed.pop("Condition")
        if resource == "*" and "Resource" in relaxed:
            relaxed["Resource"] = "*"
        return original(IAMPolicyStatement(relaxed), action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]
    mark_installed("iam-resource-unnamed")
    mark_installed("iam-conditions-unevaluated")


def bridge_iam_action_names_and_denials() -> None:
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.iam.access_control import IAMRequest, IAMRequestBase, S3IAMRequest
    from moto.s3.exceptions import S3ClientError

    name = "iam-denial-detail"
    original_check = require_method(IAMRequestBase, "check_action_permitted", name)
    require(hasattr(IAMRequestBase, "__init__"), name, "IAMRequestBase changed")

    def check_action_permitted(self: Any, resource: str) -> None:
        self._action = ACTION_NAMES.get(self._action, self._action)
        if self._action.startswith(SERVICE_PREFIXES):  # e.g. monitoring:GetMetricData
            prefix, operation = self._action.split(":", 1)
            self._action = f"{SERVICE_PREFIXES_TO_IAM[prefix]}:{operation}"
        if self._action == "dynamodb:TransactWriteItems":  # AWS checks the action of each item, IAM has no
            for action in _transaction_actions(
                self
            ):  # TransactWriteItems action (ConditionCheckItem, UpdateItem)
                self._action = action
                self._denied_resource = resource
                original_check(self, resource)
            return
        keys = _deleted_keys(self) if self._action == "s3:DeleteObject" and "/" not in resource else None
        if keys:  # DeleteObjects: AWS checks s3:DeleteObject on each object, moto on the bucket
            for key in keys:
                self._denied_resource = f"{resource}/{key}"
                original_check(self, self._denied_resource)
            return
        self._denied_resource = resource
        original_check(self, resource)

    def _record(self: Any) -> Denial:
        denial = Denial(
            principal=str(self._access_key.arn),
            action=str(self._action),
            resource=str(getattr(self, "_denied_resource", "*")),
        )
        with _denials_lock:
            _denials.append(denial)
        logger.warning("embedded IAM denied: %s", denial.sentence())
        return denial

    def json_protocol(self: Any) -> bool:
        content_type = str(self._headers.get("Content-Type", ""))
        return "json" in content_type or "X-Amz-Target" in self._headers or self._service == "lambda"

    original_invalid_key = require_method(IAMRequest, "_raise_invalid_access_key", name)

    def raise_invalid_key(self: Any, reason: str) -> None:
        if json_protocol(self):  # as AWS answers a JSON protocol; moto's XML answer read as code "403"
            error = JsonRESTError(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
            error.code = 400
            raise error
        original_invalid_key(self, reason)

    def raise_denied(self: Any) -> None:
        denial = _record(self)
        if json_protocol(self):
            # a JSON protocol (DynamoDB, Step Functions, Glue, Lambda, ...): AWS answers AccessDeniedException,
            # which botocore reads as the error code; moto's XML answer read as code "403"
            error = JsonRESTError("AccessDeniedException", denial.sentence())
            error.code = 403
            raise error
        raise AccessDeniedError(
            user_arn=denial.principal, action=f"{denial.action} on resource: {denial.resource}"
        )

    def raise_s3_denied(self: Any) -> None:
        denial = _record(self)
        raise S3ClientError("AccessDenied", denial.sentence())

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    IAMRequest._raise_access_denied = raise_denied  # type: ignore[method-assign]
    IAMRequest._raise_invalid_access_key = raise_invalid_key  # type: ignore[method-assign,assignment]
    S3IAMRequest._raise_access_denied = raise_s3_denied  # type: ignore[method-assign]
    mark_installed("iam-action-names")
    mark_installed("iam-delete-objects-per-key")
    mark_installed(name)


def bridge_iam_signature_of_bodiless_requests() -> None:
    import inspect

    from botocore.awsrequest import AWSRequest
    from moto.iam.access_control import IAMRequestBase

    name = "iam-signature-bodiless-requests"
    method = require_method(IAMRequestBase, "_create_aws_request", name)
    require("data=self._body or self._data" in inspect.getsource(method), name, "_create_aws_request changed")

    def _create_aws_request(self: Any) -> AWSRequest:
        # moto signs a request without a body (a Lambda GET) over its parsed parameters: never what the client
        # signed, so every such request failed with SignatureDoesNotMatch. The client signed the empty body.
        signed_headers = self._get_string_between(
            "SignedHeaders=", ",", self._headers["Authorization"]
        ).split(";")
        headers = self._create_headers_for_aws_request(signed_headers, self._headers)
        bodiless = self._method in ("GET", "HEAD")
        data = self._body or (b"" if bodiless else self._data)  # a form-encoded POST: moto keeps it parsed
        request = AWSRequest(method=self._method, url=self._path, data=data, headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign]
    mark_installed(name)


TRANSACTION_ITEM_ACTIONS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}


def _transaction_actions(request: Any) -> list[str]:
    """The IAM actions of a DynamoDB TransactWriteItems request's items, in order, each once."""
    import json

    try:
        body = json.loads(request._body or b"{}")
    except ValueError:
        return ["dynamodb:TransactWriteItems"]
    actions: list[str] = []
    for item in body.get("TransactItems", []):
        for kind in item:
            action = TRANSACTION_ITEM_ACTIONS.get(kind, f"dynamodb:{kind}")
            if action not in actions:
                actions.append(action)
    return actions or ["dynamodb:TransactWriteItems"]


def _deleted_keys(request: Any) -> list[str]:
    """The object keys of an S3 DeleteObjects request body (empty for anything else)."""
    import xml.etree.ElementTree as ET

    body = request._body or b""
    if b"<Delete" not in body[:512]:
        return []
    try:
        root = ET.fromstring(body)  # noqa: S314 - a request this process's own clients sent to the loopback server
    except ET.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


def bridge_sfn_service_credentials() -> None:
    import moto.stepfunctions.parser as parser
    from moto.stepfunctions.parser.asl.utils import boto_client

    name = "sfn-service-credentials"
    original = getattr(boto_client, "boto_client_for", None)
    require(
        callable(original), name, "moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for is gone"
    )
    assert original is not None

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        credentials = _sfn_credentials
        if credentials is None:
            return client
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=credentials["aws_access_key_id"],
            aws_secret_access_key=credentials["aws_secret_access_key"],
            aws_session_token=credentials.get("aws_session_token"),
        )
        return session.client(  # type: ignore[call-overload]  # the service is chosen at run time
            service, region_name=region, endpoint_url=client.meta.endpoint_url, config=client.meta.config
        )

    patched = 0
    for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: S112 - a module moto cannot import here is one the interpreter cannot use either
            continue
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
            patched += 1
    require(patched > 1, name, "no interpreter module imports boto_client_for any more")
    mark_installed(name)


BRIDGES: tuple[Callable[[], None], ...] = (
    bridge_iam_signature_of_bodiless_requests,
    bridge_iam_identity_policies,
    bridge_iam_action_names_and_denials,
    bridge_sfn_service_credentials,
)
