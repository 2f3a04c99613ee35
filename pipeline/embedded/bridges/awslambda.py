"""The Lambda bridge: moto needs Docker to run a function's code, so invocations are handed to a `LambdaInvoker`
(the real handlers, in process). The invoker is process-wide (moto's backends are): `set_lambda_invoker` swaps it."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.contracts.errors import PipelineError
from pipeline.embedded.bridges.check import mark_installed, require, require_method

LambdaInvoker = Callable[[str, bytes], bytes]


class LambdaFunctionError(PipelineError):
    """Raised by a LambdaInvoker: the invocation returns an AWS-style function error (errorType, errorMessage)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message  # str() stays "<errorType>: <message>"


@dataclass
class _Hooks:
    invoker: LambdaInvoker | None = None


_hooks = _Hooks()


def set_lambda_invoker(invoker: LambdaInvoker | None) -> None:
    """Hand every Lambda Invoke to `invoker(function_name, payload) -> response payload`."""
    _hooks.invoker = invoker


def bridge_lambda_invoke() -> None:
    from moto.awslambda.models import LambdaFunction

    name = "lambda-invoke"
    original = require_method(LambdaFunction, "invoke", name)
    require(
        list(inspect.signature(original).parameters)[1:] == ["body", "request_headers", "response_headers"],
        name,
        "LambdaFunction.invoke's signature changed",
    )

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
        invoker = _hooks.invoker
        if invoker is None:
            return original(self, body, request_headers, response_headers)
        payload = body.encode("utf-8") if isinstance(body, str) else (body or b"{}")
        try:
            result = invoker(self.function_name, payload)
        except LambdaFunctionError as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": error.error_type, "errorMessage": error.message}).encode()
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        return b"" if invocation_type == "Event" else result

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    mark_installed(name)
