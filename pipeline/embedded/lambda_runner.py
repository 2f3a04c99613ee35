"""Runs the project's real Lambda handlers in this process, configured the way AWS would configure them.

For each function deployed to the embedded AWS (by Terraform), the runner reads the function's configuration back
from moto (handler, environment variables, timeout, memory), loads the handler's module from `lambda/` once per
function (its own module instance, as each function has its own sandbox on AWS), with `os.environ` holding the
function's environment while the module is imported (cold start: handlers read their configuration then), and
calls the handler with a Lambda-like context.

The environment is process-wide: every function's variables stay set after its cold start (handlers may read
`LOG_LEVEL` and friends lazily). Two functions setting one variable to different values is refused, loudly, instead
of one silently seeing the other's configuration.

With IAM enforced (`role_environment`, docs/iam.md), the function's execution-role credentials
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, as Lambda sets them) are in the environment
while its module is imported, and only then: the handler builds its boto3 clients at cold start and keeps them. A
function without role credentials is refused (`EmbeddedRoleMissing`) rather than run as the harness.

Function logs (what CloudWatch Logs would hold) go to one file per function under the work folder's `logs/`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.embedded.bridges import LambdaFunctionError
from pipeline.embedded.emf import EmbeddedMetrics
from pipeline.embedded.iam import credentials_in_environment
from pipeline.embedded.server import harness_client

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HANDLER_DIR = REPO_ROOT / "lambda"


@dataclass
class LambdaContext:
    """The subset of the AWS Lambda Python context object that handlers and powertools use."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"embedded/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _LoadedFunction:
    name: str
    arn: str
    version: str
    handler: Callable[[Any, Any], Any]
    timeout: int
    memory: int
    invocations: int = 0
    errors: int = 0


class LambdaRunner:
    """`invoke(function_name, payload) -> bytes`: the `LambdaInvoker` the moto bridge and the poller call."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        handler_dir: Path = DEFAULT_HANDLER_DIR,
        log_dir: Path | None = None,
        region: str = "us-east-1",
        role_environment: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._lambda = harness_client("lambda", endpoint_url, region)
        # function name -> AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of its execution role
        self._role_environment = {name: dict(env) for name, env in (role_environment or {}).items()}
        self._handler_dir = handler_dir
        self._log_dir = log_dir
        self._functions: dict[str, _LoadedFunction] = {}
        self._env_owner: dict[str, tuple[str, str]] = {}
        self._load_lock = threading.Lock()
        self.metrics = EmbeddedMetrics(endpoint_url, region)

    # ----------------------------------------------------------------------------------------- public

    def invoke(self, function_name: str, payload: bytes) -> bytes:
        function = self._function(function_name)
        event = json.loads(payload or b"{}")
        context = LambdaContext(
            function_name=function.name,
            function_version=function.version,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory,
            timeout_seconds=function.timeout,
        )
        function.invocations += 1
        try:
            result = function.handler(event, context)
        except Exception as exc:
            function.errors += 1
            logger.warning("function %s raised %s: %s", function.name, type(exc).__name__, exc)
            self._log_error(function.name, exc)
            raise LambdaFunctionError(type(exc).__name__, str(exc)) from exc
        return json.dumps(result, default=str).encode()

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            name: {"invocations": f.invocations, "errors": f.errors} for name, f in self._functions.items()
        }

    def warm_up(self, function_names: list[str]) -> None:
        """Cold-start these functions now (module import and config validation) rather than on first event."""
        for name in function_names:
            self._function(name)

    # ----------------------------------------------------------------------------------------- loading

    def _function(self, function_name: str) -> _LoadedFunction:
        name = function_name.rsplit(":function:", 1)[-1].split(":")[0]
        loaded = self._functions.get(name)
        if loaded is not None:
            return loaded
        with self._load_lock:
            loaded = self._functions.get(name)
            if loaded is None:
                loaded = self._load(name)
                self._functions[name] = loaded
        return loaded

    def _load(self, name: str) -> _LoadedFunction:
        config = self._lambda.get_function_configuration(FunctionName=name)
        handler_spec = config.get("Handler") or ""
        module_name, _, attribute = handler_spec.rpartition(".")
        if not module_name or not attribute:
            raise LambdaFunctionError(
                "Runtime.HandlerNotFound",
                f"Function {name} has handler '{handler_spec}', expected 'module.function'.",
            )
        source = self._handler_dir / (module_name.replace(".", "/") + ".py")
        if not source.is_file():
            raise LambdaFunctionError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}' for function {name}: {source} does not exist.",
            )
        environment = dict((config.get("Environment") or {}).get("Variables") or {})
        role_environment = self._role_environment.get(name)
        if self._role_environment and role_environment is None:
            raise LambdaFunctionError(
                "EmbeddedRoleMissing",
                f"Function {name} has no execution-role credentials: IAM is enforced and it would run as the "
                "harness; its role is assumed when the stack starts (pipeline/embedded/iam.py).",
            )
        self._apply_environment(name, environment, config)
        with _role_credentials(role_environment):
            module = self._import(name, module_name, source)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise LambdaFunctionError(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_name}' ({name}).",
            )
        self._route_logs(name)
        self._route_metrics(module)
        logger.info("cold start of %s (%s) done", name, handler_spec)
        return _LoadedFunction(
            name=name,
            arn=config["FunctionArn"],
            version=config.get("Version", "$LATEST"),
            handler=handler,
            timeout=int(config.get("Timeout") or 3),
            memory=int(config.get("MemorySize") or 128),
        )

    def _apply_environment(self, name: str, environment: dict[str, str], config: Mapping[str, Any]) -> None:
        runtime_env = {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize") or 128),
            "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
        }
        for key, value in environment.items():
            owner = self._env_owner.get(key)
            if owner is not None and owner[1] != value:
                raise LambdaFunctionError(
                    "EmbeddedEnvironmentConflict",
                    f"Functions {owner[0]} and {name} set {key} to different values ({owner[1]!r} vs {value!r}); "
                    "the embedded runtime shares one process environment: give the variable one value.",
                )
            self._env_owner[key] = (name, value)
            os.environ[key] = value
        # Runtime variables describe the function being started; they are per-invocation facts on AWS and
        # handlers here only read them at cold start.
        os.environ.update(runtime_env)

    def _import(self, name: str, module_name: str, source: Path) -> ModuleType:
        unique = "embedded_lambda_" + re.sub(r"\W", "_", f"{name}_{module_name}")
        spec = importlib.util.spec_from_file_location(unique, source)
        if spec is None or spec.loader is None:
            raise LambdaFunctionError("Runtime.ImportModuleError", f"Cannot load {source} for {name}.")
        module = importlib.util.module_from_spec(spec)
        handler_dir = str(source.parent)
        added = handler_dir not in sys.path
        if added:  # helpers next to the handler import as on AWS (the zip root is on the path)
            sys.path.append(handler_dir)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(unique, None)
            raise LambdaFunctionError(type(exc).__name__, f"Cold start of {name} failed: {exc}") from exc
        return module

    # ----------------------------------------------------------------------------------------- logs

    def _route_logs(self, name: str) -> None:
        """Send handler log output written to stdout/stderr (powertools' default) to logs/lambda.log."""
        if self._log_dir is None:
            return
        self._log_dir.mkdir(parents=True, exist_ok=True)
        stream = _shared_log_stream(self._log_dir / "lambda.log")
        for candidate in list(logging.Logger.manager.loggerDict.values()):
            if not isinstance(candidate, logging.Logger):
                continue
            for handler in candidate.handlers:
                if (
                    isinstance(handler, logging.StreamHandler)
                    and not isinstance(handler, logging.FileHandler)
                    and handler.stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
                ):
                    handler.setStream(stream)

    def _route_metrics(self, module: ModuleType) -> None:
        """The handler's EMF lines (``APP.metrics.emit``, print on AWS) to lambda.log and the embedded CloudWatch."""
        recorder = getattr(getattr(module, "APP", None), "metrics", None)
        if recorder is not None and hasattr(recorder, "emit"):
            log = self._log_dir / "lambda.log" if self._log_dir is not None else None
            recorder.emit = self.metrics.sink(log)

    def _log_error(self, name: str, exc: BaseException) -> None:
        if self._log_dir is None:
            return
        stream = _shared_log_stream(self._log_dir / "lambda.log")
        stream.write(
            json.dumps(
                {
                    "function": name,
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
            )
            + "\n"
        )
        stream.flush()


@contextlib.contextmanager
def _role_credentials(environment: Mapping[str, str] | None) -> Iterator[None]:
    """The function's execution-role credentials in the environment while its module is imported (cold start),
    as Lambda sets them: the handler's clients are built then and keep them. Restored afterwards, because the
    process environment is shared with every other function and the harness."""
    if not environment:
        yield
        return
    with credentials_in_environment(environment):
        yield


_streams: dict[Path, Any] = {}
_streams_lock = threading.Lock()


def _shared_log_stream(path: Path) -> Any:
    with _streams_lock:
        stream = _streams.get(path)
        if stream is None or stream.closed:
            stream = path.open("a", encoding="utf-8", buffering=1)
            _streams[path] = stream
        return stream
