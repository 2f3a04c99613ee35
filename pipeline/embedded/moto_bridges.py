"""Bridges over the few gaps of moto (pinned in pyproject.toml) that the embedded AWS needs.

Every bridge is a small, named patch of one moto internal. `install()` applies them all once per process and checks
first that each one still applies to the installed moto: when moto changes the code a bridge wraps, start-up fails
with `MotoBridgeOutdated` naming the bridge instead of the pipeline misbehaving later.

| bridge | moto gap (moto 5.2.5) |
| --- | --- |
| sfn-terraform-actions | `ValidateStateMachineDefinition` and `ListStateMachineVersions` are missing; the Terraform AWS provider calls both for `aws_sfn_state_machine` and retries the 500s for minutes. |
| sfn-glue-sync-callback | `glue:startJobRun.sync` always fails with `States.Runtime`: the callback endpoint is None for Glue but is interrupted unconditionally. |
| sfn-glue-sync-output | the Glue job run returned by `.sync` carries datetimes, which `DescribeExecution` cannot JSON-encode. |
| sfn-sdk-s3-body | an `aws-sdk:s3:getObject` task hands the interpreter a botocore stream as `Body`; Step Functions returns the object's text, which `States.StringToJson($.Body)` needs. |
| glue-job-runs | a Glue job run executes nothing (STARTING -> RUNNING -> SUCCEEDED by itself): runs are handed to a `GlueRunner`, and their state follows its outcome. |
| lambda-invoke | Lambda needs Docker to run code: invocations are handed to a `LambdaInvoker` (in-process handlers). |
| sqs-compact-redrive-policy | `GetQueueAttributes` returns `RedrivePolicy` as JSON with spaces where AWS returns it compact, so every `terraform plan` after an apply shows a whitespace change. |
| sqs-counts-one-clock-read | every read of any queue attribute (each SendMessage reads one) recounts all messages and reads the clock twice per message: with a few thousand queued S3 notifications each PutObject and ReceiveMessage cost tens to hundreds of milliseconds of the one process (tracking fell from 315 to 24 files a minute in bench/embedded_load.py). Same counts, one clock read per count. |
| sqs-retention-one-attribute | the retention check, three times per received message, computes every queue attribute (the counts above included) to read `MessageRetentionPeriod`: it reads that one attribute. |
| sqs-esm-dispatch | moto's SQS event source mappings invoke the function inside SendMessage, one message at a time, and delete it whatever happens: disabled, so the embedded poller (with batch size, visibility timeout, partial failures and redrive) is the only consumer. |

Runners and invokers are process-wide (moto's backends are): `set_glue_runner` / `set_lambda_invoker` swap them.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import logging
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.contracts.errors import PipelineError

logger = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"


class MotoBridgeOutdated(PipelineError):
    """The installed moto no longer has the code a bridge patches."""

    error_name = "MotoBridgeOutdated"


class GlueRunFailed(PipelineError):
    """Raised by a GlueRunner: the job run ends FAILED with this message (the ASL Catch sees States.TaskFailed)."""


class GlueStartRejected(PipelineError):
    """Raised by a GlueRunner's admission check: StartJobRun itself fails with `code` (e.g. ConcurrentRunsExceededException)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message  # str() stays "<code>: <message>"


class LambdaFunctionError(PipelineError):
    """Raised by a LambdaInvoker: the invocation returns an AWS-style function error (errorType, errorMessage)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message  # str() stays "<errorType>: <message>"


@dataclass(frozen=True)
class GlueRunRequest:
    job_name: str
    run_id: str
    arguments: dict[str, str] = field(default_factory=dict)


GlueRunner = Callable[[GlueRunRequest], None]
GlueAdmission = Callable[[GlueRunRequest], None]
LambdaInvoker = Callable[[str, bytes], bytes]


@dataclass
class _Hooks:
    glue_runner: GlueRunner | None = None
    glue_admission: GlueAdmission | None = None
    lambda_invoker: LambdaInvoker | None = None


_hooks = _Hooks()
_install_lock = threading.Lock()
_installed: list[str] = []
_done = threading.Event()


def set_glue_runner(runner: GlueRunner | None, admission: GlueAdmission | None = None) -> None:
    """Hand every new moto Glue job run to `runner` (in a background thread); `admission` may reject the start.

    With no runner, job runs keep moto's own behaviour (they succeed by themselves).
    """
    _hooks.glue_runner = runner
    _hooks.glue_admission = admission


def set_lambda_invoker(invoker: LambdaInvoker | None) -> None:
    """Hand every Lambda Invoke to `invoker(function_name, payload) -> response payload`."""
    _hooks.lambda_invoker = invoker


def installed_bridges() -> list[str]:
    return list(_installed)


# --------------------------------------------------------------------------------------------- helpers


def _require(condition: bool, bridge: str, what: str) -> None:
    if not condition:
        raise MotoBridgeOutdated(
            f"The moto bridge '{bridge}' no longer applies to the installed moto ({what}); "
            f"this project is verified with moto=={PINNED_MOTO_VERSION}: reinstall it with `make setup`."
        )


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


# --------------------------------------------------------------------------------------------- bridges


def _bridge_sfn_terraform_actions() -> None:
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
    _require(hasattr(StepFunctionResponse, "_get_param"), name, "StepFunctionResponse._get_param is gone")

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
    _installed.append(name)


_UNGUARDED_INTERRUPT = "            callback_endpoint.interrupt_all()\n"
_GUARDED_INTERRUPT = (
    "            if callback_endpoint is not None:\n                callback_endpoint.interrupt_all()\n"
)


def _bridge_sfn_glue_sync_callback() -> None:
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
    _require(source.count(unguarded) == 1, name, "StateTaskServiceCallback._eval_integration_pattern changed")
    # Re-create the method from its own source with the one line guarded, in its own module's namespace.
    indented = textwrap.indent(source, "    ")
    patched = indented.replace(_UNGUARDED_INTERRUPT, _GUARDED_INTERRUPT)
    _require(patched != indented, name, "the interrupt_all() line is not where it was")
    namespace: dict[str, Any] = {}
    exec(  # noqa: S102 - compiling moto's own method with one guarded line
        compile("class _Patched:\n" + patched, inspect.getsourcefile(method) or "<moto>", "exec"),
        module.__dict__,
        namespace,
    )
    cls._eval_integration_pattern = namespace["_Patched"].__dict__["_eval_integration_pattern"]
    _installed.append(name)


def _bridge_sfn_glue_sync_output() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
        StateTaskServiceGlue,
    )

    name = "sfn-glue-sync-output"
    original = getattr(StateTaskServiceGlue, "_sync_to_start_job_run", None)
    _require(callable(original), name, "StateTaskServiceGlue._sync_to_start_job_run is gone")

    @functools.wraps(original)  # type: ignore[arg-type]
    def _sync_to_start_job_run(self: Any, *args: Any, **kwargs: Any) -> Callable[[], Any] | None:
        resolver = original(self, *args, **kwargs)  # type: ignore[misc]
        if resolver is None:
            return None

        def json_safe_resolver() -> Any:
            return _json_safe(resolver())

        return json_safe_resolver

    StateTaskServiceGlue._sync_to_start_job_run = _sync_to_start_job_run  # type: ignore[method-assign]
    _installed.append(name)


def _bridge_sfn_sdk_s3_body() -> None:
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    name = "sfn-sdk-s3-body"
    original = getattr(StateTaskServiceAwsSdk, "_eval_service_task", None)
    _require(callable(original), name, "StateTaskServiceAwsSdk._eval_service_task is gone")
    _require(
        "env.stack.append(response)" in inspect.getsource(original),
        name,  # type: ignore[arg-type]
        "the aws-sdk task no longer pushes the raw response",
    )

    @functools.wraps(original)  # type: ignore[arg-type]
    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)  # type: ignore[misc]
        response = env.stack[-1] if env.stack else None
        if isinstance(response, dict) and isinstance(response.get("Body"), StreamingBody):
            response["Body"] = response["Body"].read().decode("utf-8", errors="replace")

    StateTaskServiceAwsSdk._eval_service_task = _eval_service_task  # type: ignore[method-assign]
    _installed.append(name)


def _bridge_glue_job_runs() -> None:
    from moto.glue.exceptions import GlueClientError
    from moto.glue.models import FakeJob, FakeJobRun

    name = "glue-job-runs"
    _require(callable(getattr(FakeJob, "start_job_run", None)), name, "FakeJob.start_job_run is gone")
    _require(
        isinstance(inspect.getattr_static(FakeJobRun, "status", None), property),
        name,
        "FakeJobRun.status is not a property any more",
    )
    _require(callable(getattr(FakeJobRun, "as_dict", None)), name, "FakeJobRun.as_dict is gone")

    original_start = FakeJob.start_job_run
    original_status: property = inspect.getattr_static(FakeJobRun, "status")
    original_as_dict = FakeJobRun.as_dict

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        if _hooks.glue_admission is not None:
            arguments = dict(self.default_arguments or {})
            arguments.update(kwargs.get("arguments") or {})
            try:
                _hooks.glue_admission(GlueRunRequest(job_name=self.name, run_id="", arguments=arguments))
            except GlueStartRejected as rejected:
                raise GlueClientError(rejected.code, rejected.message) from None
        run_id = original_start(self, *args, **kwargs)
        runner = _hooks.glue_runner
        if runner is None:
            return run_id
        run = next(jr for jr in self.job_runs if jr.job_run_id == run_id)
        run._bridge_state = "RUNNING"
        run._bridge_error = None
        run.completed_on = None
        request = GlueRunRequest(job_name=self.name, run_id=run_id, arguments=dict(run.arguments or {}))
        threading.Thread(
            target=_execute_run, args=(runner, run, request), daemon=True, name=f"glue-run-{run_id[:12]}"
        ).start()
        return run_id

    def status_get(self: Any) -> str | None:
        bridged = getattr(self, "_bridge_state", None)
        return bridged if bridged is not None else original_status.fget(self)  # type: ignore[misc]

    def status_set(self: Any, value: str) -> None:
        if getattr(self, "_bridge_state", None) is not None:
            self._bridge_state = value
        else:
            original_status.fset(self, value)  # type: ignore[misc]

    def as_dict(self: Any) -> dict[str, Any]:
        result = original_as_dict(self)
        if getattr(self, "_bridge_state", None) is not None:
            if self.completed_on is None:
                result.pop("CompletedOn", None)
            result["ExecutionTime"] = int(((self.completed_on or _now()) - self.started_on).total_seconds())
            result["GlueVersion"] = getattr(self, "_bridge_glue_version", None) or result.get("GlueVersion")
            if self._bridge_error:
                result["ErrorMessage"] = self._bridge_error
        return result

    FakeJob.start_job_run = start_job_run  # type: ignore[method-assign]
    FakeJobRun.status = property(status_get, status_set)  # type: ignore[assignment,method-assign]
    FakeJobRun.as_dict = as_dict  # type: ignore[method-assign]
    _installed.append(name)


def _now() -> dt.datetime:
    from moto.core.utils import utcnow

    return utcnow()


def _execute_run(runner: GlueRunner, run: Any, request: GlueRunRequest) -> None:
    started = time.monotonic()
    try:
        runner(request)
    except GlueRunFailed as failed:
        run._bridge_error = str(failed) or "The job run failed."
        run._bridge_state = "FAILED"
    except Exception as exc:  # a runner crash is a failed run, never a stuck one
        logger.exception("Glue run %s crashed in the embedded runner", request.run_id)
        run._bridge_error = f"{type(exc).__name__}: {exc}"
        run._bridge_state = "FAILED"
    else:
        run._bridge_state = "SUCCEEDED"
    finally:
        run.completed_on = _now()
        logger.debug(
            "Glue run %s ended %s after %.1fs", request.run_id, run._bridge_state, time.monotonic() - started
        )


def _bridge_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction

    name = "lambda-invoke"
    original = getattr(LambdaFunction, "invoke", None)
    _require(callable(original), name, "LambdaFunction.invoke is gone")
    _require(
        list(inspect.signature(original).parameters)[1:] == ["body", "request_headers", "response_headers"],
        name,
        "LambdaFunction.invoke's signature changed",
    )

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
        invoker = _hooks.lambda_invoker
        if invoker is None:
            return original(self, body, request_headers, response_headers)  # type: ignore[misc]
        payload = body.encode("utf-8") if isinstance(body, str) else (body or b"{}")
        try:
            result = invoker(self.function_name, payload)
        except LambdaFunctionError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": error.error_type, "errorMessage": error.message}).encode()
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        return b"" if invocation_type == "Event" else result

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    _installed.append(name)


def _bridge_sqs_esm_dispatch() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue, sqs_backends

    name = "sqs-esm-dispatch"
    original = getattr(LambdaBackend, "create_event_source_mapping", None)
    _require(callable(original), name, "LambdaBackend.create_event_source_mapping is gone")
    _require(
        "lambda_event_source_mappings" in inspect.getsource(Queue),
        name,
        "Queue.lambda_event_source_mappings is gone",
    )

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = original(self, spec)  # type: ignore[misc]
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
    _installed.append(name)


def _bridge_sqs_compact_redrive_policy() -> None:
    from moto.sqs.models import Queue

    name = "sqs-compact-redrive-policy"
    original = inspect.getattr_static(Queue, "attributes", None)
    _require(isinstance(original, property), name, "Queue.attributes is not a property any more")
    _require(
        "json.dumps(self.redrive_policy)" in inspect.getsource(original.fget),
        name,  # type: ignore[union-attr,arg-type]
        "Queue.attributes no longer renders RedrivePolicy with json.dumps",
    )

    def attributes(self: Any) -> dict[str, Any]:
        result = original.fget(self)  # type: ignore[union-attr,misc]
        if isinstance(result.get("RedrivePolicy"), str):
            result["RedrivePolicy"] = json.dumps(json.loads(result["RedrivePolicy"]), separators=(",", ":"))
        return result

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    _installed.append(name)


_SQS_COUNTS = {
    "messages": "message.visible and not message.delayed",
    "approximate_number_of_messages_delayed": "m.delayed",
    "approximate_number_of_messages_not_visible": "not m.visible",
}


def _bridge_sqs_counts_one_clock_read() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    name = "sqs-counts-one-clock-read"
    for attribute, expected in _SQS_COUNTS.items():
        original = inspect.getattr_static(Queue, attribute, None)
        _require(isinstance(original, property), name, f"Queue.{attribute} is not a property any more")
        _require(
            expected in inspect.getsource(original.fget),  # type: ignore[union-attr,arg-type]
            name,
            f"Queue.{attribute} no longer counts with `{expected}`",
        )

    # Same rules as Message.visible / Message.delayed, with one clock read per count instead of two per message.
    def messages(self: Any) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    _installed.append(name)


def _bridge_sqs_retention_one_attribute() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    name = "sqs-retention-one-attribute"
    original = getattr(SQSBackend, "is_message_valid_based_on_retention_period", None)
    _require(callable(original), name, "SQSBackend.is_message_valid_based_on_retention_period is gone")
    _require(
        '["MessageRetentionPeriod"]' in inspect.getsource(original),  # type: ignore[arg-type]
        name,
        "the retention check no longer reads MessageRetentionPeriod from all the queue's attributes",
    )

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    _installed.append(name)


_BRIDGES: tuple[Callable[[], None], ...] = (
    _bridge_sfn_terraform_actions,
    _bridge_sfn_glue_sync_callback,
    _bridge_sfn_glue_sync_output,
    _bridge_sfn_sdk_s3_body,
    _bridge_glue_job_runs,
    _bridge_lambda_invoke,
    _bridge_sqs_esm_dispatch,
    _bridge_sqs_compact_redrive_policy,
    _bridge_sqs_counts_one_clock_read,
    _bridge_sqs_retention_one_attribute,
)


def install() -> list[str]:
    """Apply every bridge once per process (idempotent); returns the names of the bridges in force."""
    with _install_lock:
        if _done.is_set():
            return list(_installed)
        from importlib.metadata import version

        installed_version = version("moto")
        if installed_version != PINNED_MOTO_VERSION:
            logger.warning(
                "moto %s is installed; the bridges were verified with %s",
                installed_version,
                PINNED_MOTO_VERSION,
            )
        for bridge in _BRIDGES:
            bridge()
        _done.set()
        return list(_installed)
