"""IAM enforced in the embedded AWS (docs/iam.md): each component with its own role's credentials.

After Terraform has applied the stack (with moto's authorization still off), `IamEnforcement`:

1. creates the IAM user `embedded-harness-admin` (HARNESS-ONLY: the test harness, the invariant checks and the
   embedded runtime's own plumbing, i.e. what AWS itself does outside any role: reading a function's
   configuration, moving SQS messages for the event source mapping, a Glue job's definition);
2. assumes (sts:AssumeRole in moto) the execution role of every deployed function, the Glue job's role and the
   state machine's role, as Lambda, Glue and Step Functions would;
3. switches moto's IAM check on (`moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0`; moto reads it per request),
   and off again on `disable()` (moto's backends are process-wide: the next stack's Terraform apply runs without).

moto accepts the assumed-role credentials until the embedded AWS stops (it checks no expiry), so they are taken
once. A request the caller's identity policies do not allow fails with AccessDenied naming the principal, the
action and the resource; `bridges.iam.denials()` keeps every one, and `IamAccessDenied` names them for the user.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import boto3

from pipeline.contracts.errors import PipelineError
from pipeline.embedded.bridges.iam import Denial, clear_denials, denials, set_stepfunctions_credentials

logger = logging.getLogger(__name__)

HARNESS_USER = "embedded-harness-admin"  # harness-only: never a component's identity
_ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


# The variables that carry an identity's keys in an environment (boto3's environment provider reads them).
CREDENTIAL_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def restore_environment(saved: Mapping[str, str | None], env: MutableMapping[str, str] = os.environ) -> None:
    """Put back the values `saved` recorded (None: the variable was absent)."""
    for key, value in saved.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value


@contextlib.contextmanager
def credentials_in_environment(credentials: Mapping[str, str]) -> Iterator[None]:
    """`credentials` (an identity's CREDENTIAL_KEYS) as the process's environment identity while the block runs,
    with no key of the previous identity left over; the previous values come back afterwards."""
    saved = {key: os.environ.get(key) for key in CREDENTIAL_KEYS}
    for key in CREDENTIAL_KEYS:
        os.environ.pop(key, None)
    os.environ.update(credentials)
    try:
        yield
    finally:
        restore_environment(saved)


class IamAccessDenied(PipelineError):
    error_name = "IamAccessDenied"


@dataclass(frozen=True)
class Credentials:
    """One identity's keys (an assumed role's carry a session token)."""

    principal: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables Lambda sets for a function's execution role (and boto3's environment provider reads)."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env

    def session_kwargs(self) -> dict[str, str]:
        kwargs = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            kwargs["aws_session_token"] = self.session_token
        return kwargs

    def session(self, region: str) -> boto3.session.Session:
        return boto3.session.Session(
            region_name=region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
        )


def denial_error(found: list[Denial]) -> IamAccessDenied:
    lines = "; ".join(sorted({d.sentence() + f" (role {d.role})" for d in found}))
    return IamAccessDenied(
        f"The embedded AWS enforces IAM and denied {len(found)} request(s): {lines}.",
        fix="Add the missing action on that resource to the role's policy in terraform/ (never a wildcard), "
        "or fix the code that needs it (docs/iam.md).",
    )


class IamEnforcement:
    """The harness admin, the components' role credentials and moto's authorization switch."""

    def __init__(self, endpoint_url: str, region: str, bootstrap_credentials: dict[str, str]) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._bootstrap = boto3.session.Session(
            region_name=region,
            aws_access_key_id=bootstrap_credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=bootstrap_credentials["AWS_SECRET_ACCESS_KEY"],
        )
        self.admin: Credentials | None = None
        self.roles: dict[str, Credentials] = {}  # role ARN -> assumed-role credentials
        self.enabled = False
        self._previous: tuple[float, int] | None = None

    def _client(self, service: str) -> Any:
        return self._bootstrap.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def create_admin(self) -> Credentials:
        """The harness-only admin user (moto's authorization still off)."""
        iam = self._client("iam")
        try:
            user = iam.create_user(UserName=HARNESS_USER, Tags=[{"Key": "purpose", "Value": "harness-only"}])
        except iam.exceptions.EntityAlreadyExistsException:
            user = iam.get_user(UserName=HARNESS_USER)
        iam.put_user_policy(
            UserName=HARNESS_USER, PolicyName="harness-only-admin", PolicyDocument=json.dumps(_ADMIN_POLICY)
        )
        key = iam.create_access_key(UserName=HARNESS_USER)["AccessKey"]
        self.admin = Credentials(user["User"]["Arn"], key["AccessKeyId"], key["SecretAccessKey"])
        return self.admin

    def assume(self, role_arn: str, session_name: str) -> Credentials:
        """The role's credentials, as the service that runs as it would get them (sts:AssumeRole)."""
        found = self.roles.get(role_arn)
        if found is None:
            answer = self._client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])
            creds = answer["Credentials"]
            found = Credentials(
                answer["AssumedRoleUser"]["Arn"],
                creds["AccessKeyId"],
                creds["SecretAccessKey"],
                creds["SessionToken"],
            )
            self.roles[role_arn] = found
        return found

    def assume_stack_roles(
        self, function_names: list[str], glue_job_names: list[str]
    ) -> dict[str, Credentials]:
        """Every function's, Glue job's and state machine's role, keyed by the component's name."""
        by_component: dict[str, Credentials] = {}
        lam, glue, sfn = self._client("lambda"), self._client("glue"), self._client("stepfunctions")
        # Every deployed function, not only the named ones: after the switch no role can be assumed any more
        # (moto's trust-policy check fails for Service principals), and a function without its role's keys
        # would run as the process's identity.
        deployed = [f["FunctionName"] for f in lam.list_functions().get("Functions", [])]
        for name in dict.fromkeys([*function_names, *deployed]):
            role = lam.get_function_configuration(FunctionName=name)["Role"]
            by_component[name] = self.assume(role, name)
        for name in glue_job_names:
            role = glue.get_job(JobName=name)["Job"]["Role"]
            if not role.startswith("arn:"):
                role = self._client("iam").get_role(RoleName=role)["Role"]["Arn"]
            by_component[name] = self.assume(role, name)
        machines = sfn.list_state_machines()["stateMachines"]
        roles = {
            sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["roleArn"] for m in machines
        }
        if len(roles) > 1:
            logger.warning(
                "several state machine roles %s: the interpreter signs with the first", sorted(roles)
            )
        for role in sorted(roles)[:1]:
            creds = self.assume(role, "states")
            by_component["states"] = creds
            set_stepfunctions_credentials(creds.session_kwargs())
        return by_component

    def assume_operator(self, manifest_builder_function: str) -> Credentials | None:
        """The embedded example's operators' role, `<name_prefix>-operator` (None when the stack has none)."""
        prefix = manifest_builder_function.removesuffix("-manifest-builder")
        iam = self._client("iam")
        try:
            role = iam.get_role(RoleName=f"{prefix}-operator")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return None
        return self.assume(role, "operator")

    def enable(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        if self.enabled:
            return
        self._previous = (settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
        clear_denials()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0
        self.enabled = True
        logger.info("embedded IAM enforcement on (%d role(s) assumed)", len(self.roles))

    def disable(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        set_stepfunctions_credentials(None)
        if not self.enabled or self._previous is None:
            return
        settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = self._previous
        self.enabled = False

    @staticmethod
    def denials() -> list[Denial]:
        return denials()

    def raise_if_denied(self) -> None:
        found = denials()
        if found:
            raise denial_error(found)
