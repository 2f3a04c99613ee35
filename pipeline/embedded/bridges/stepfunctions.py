"""Step Functions bridges: the actions Terraform needs, and the Glue `.sync` and aws-sdk S3 tasks of moto's
interpreter (the gaps are listed in pipeline/embedded/bridges/__init__.py)."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import logging
import textwrap
from collections.abc import Callable
from typing import Any

from pipeline.embedded.bridges.check import mark_installed, require, require_method

logger = logging.getLogger(__name__)


def _json_safe(value: Any) -> Any:
    """Datetimes as AWS's JSON protocol renders them (epoch seconds), recursively."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def bridge_sfn_terraform_actions() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse, get_backend

    name = "sfn-terraform-actions"
    missing = [
        action
        for action in ("validate_state_machine_definition", "list_state_machine_versions")
        if not hasattr(StepFunctionResponse, action)
    ]
    if not missing:
        logger.info("moto bridge %s not needed: moto implements both actions now", name)
        return
    require(hasattr(StepFunctionResponse, "_get_param"), name, "StepFunctionResponse._get_param is gone")

    def validate_state_machine_definition(self: Any) -> str:
        definition = self._get_param("definition") or ""
        diagnostics: list[dict[str, str]] = []
        try:
            parsed = json.loads(definition)
            if not isinstance(parsed, dict) or "StartAt" not in parsed or "States" not in parsed:
                diagnostics.append(
                    {
                        "severity": "ERROR",
                        "code": "SCHEMA_VALIDATION_FAILED",
                        "message": "A definition needs StartAt and States.",
                        "location": "/",
                    }
                )
        except json.JSONDecodeError as exc:
            diagnostics.append(
                {
                    "severity": "ERROR",
                    "code": "INVALID_JSON_DESCRIPTION",
                    "message": f"The definition is not valid JSON: {exc}",
                    "location": "/",
                }
            )
        return json.dumps(
            {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
        )

    def list_state_machine_versions(self: Any) -> str:
        arn = self._get_param("stateMachineArn")
        backend = get_backend(self.current_account, self.region)
        machine = backend.describe_state_machine(arn)
        versions = [
            {"stateMachineVersionArn": version.arn, "creationDate": _json_safe(version.creation_date)}
            for version in sorted(getattr(machine, "versions", {}).values(), key=lambda v: -v.version)
        ]
        return json.dumps({"stateMachineVersions": versions})

    if "validate_state_machine_definition" in missing:
        StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition  # type: ignore[attr-defined]
    if "list_state_machine_versions" in missing:
        StepFunctionResponse.list_state_machine_versions = list_state_machine_versions  # type: ignore[attr-defined]
    mark_installed(name)


_UNGUARDED_INTERRUPT = "            callback_endpoint.interrupt_all()\n"
_GUARDED_INTERRUPT = (
    "            if callback_endpoint is not None:\n                callback_endpoint.interrupt_all()\n"
)


def bridge_sfn_glue_sync_callback() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as module,
    )

    name = "sfn-glue-sync-callback"
    cls = module.StateTaskServiceCallback
    method = cls._eval_integration_pattern
    source = textwrap.dedent(inspect.getsource(method))
    unguarded = textwrap.dedent(_UNGUARDED_INTERRUPT).strip()
    if "if callback_endpoint is not None" in source or "if callback_endpoint:" in source:
        logger.info("moto bridge %s not needed: moto guards the callback endpoint now", name)
        return
    require(source.count(unguarded) == 1, name, "StateTaskServiceCallback._eval_integration_pattern changed")
    # Re-create the method from its own source with the one line guarded, in its own module's namespace.
    indented = textwrap.indent(source, "    ")
    patched = indented.replace(_UNGUARDED_INTERRUPT, _GUARDED_INTERRUPT)
    require(patched != indented, name, "the interrupt_all() line is not where it was")
    namespace: dict[str, Any] = {}
    exec(  # noqa: S102 - compiling moto's own method with one guarded line
        compile("class _Patched:\n" + patched, inspect.getsourcefile(method) or "<moto>", "exec"),
        module.__dict__,
        namespace,
    )
    cls._eval_integration_pattern = namespace["_Patched"].__dict__["_eval_integration_pattern"]  # type: ignore[method-assign]
    mark_installed(name)


def bridge_sfn_glue_sync_output() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
        StateTaskServiceGlue,
    )

    name = "sfn-glue-sync-output"
    original = require_method(StateTaskServiceGlue, "_sync_to_start_job_run", name)

    @functools.wraps(original)
    def _sync_to_start_job_run(self: Any, *args: Any, **kwargs: Any) -> Callable[[], Any] | None:
        resolver = original(self, *args, **kwargs)
        if resolver is None:
            return None

        def json_safe_resolver() -> Any:
            return _json_safe(resolver())

        return json_safe_resolver

    StateTaskServiceGlue._sync_to_start_job_run = _sync_to_start_job_run  # type: ignore[method-assign]
    mark_installed(name)


def bridge_sfn_sdk_s3_body() -> None:
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    name = "sfn-sdk-s3-body"
    original = require_method(StateTaskServiceAwsSdk, "_eval_service_task", name)
    require(
        "env.stack.append(response)" in inspect.getsource(original),
        name,
        "the aws-sdk task no longer pushes the raw response",
    )

    @functools.wraps(original)
    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        response = env.stack[-1] if env.stack else None
        if isinstance(response, dict) and isinstance(response.get("Body"), StreamingBody):
            response["Body"] = response["Body"].read().decode("utf-8", errors="replace")

    StateTaskServiceAwsSdk._eval_service_task = _eval_service_task  # type: ignore[method-assign]
    mark_installed(name)
