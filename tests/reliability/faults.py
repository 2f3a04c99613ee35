"""AWS faults injected at the botocore port: one dispatcher appended to botocore's built-in handlers, so every
botocore session created afterwards (the handler's own `boto3.session.Session()` at cold start, the operator
commands' sessions) carries it. A rule matches a service and operation (and optionally the call's API parameters)
and either answers with an AWS error response instead of sending the request (botocore then raises the
service's modeled exception, exactly as for a real error) or "kills the process" before or after the request
(a BaseException our code cannot catch, like a Lambda sandbox dying). With no rule active it does nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSResponse


class ProcessKilled(BaseException):
    """The invocation dies here (not an Exception: nothing in our code catches it)."""


@dataclass
class Rule:
    service: str  # botocore service id, hyphenated: "sfn", "s3", "dynamodb"
    operation: str
    code: str = "ThrottlingException"
    status: int = 400
    times: int | None = None  # None: every matching call
    when: Callable[[dict[str, Any]], bool] = lambda params: True
    kill: str | None = None  # "before" or "after": raise ProcessKilled instead of an error answer
    hits: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, service: str, operation: str, params: dict[str, Any]) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return bool(self.when(params))


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def install(self) -> None:
        specs = botocore.handlers.BUILTIN_HANDLERS
        if not any(getattr(h, "__self__", None) is self for _, h, *_ in specs):
            specs.append(("before-parameter-build", self._remember_params))
            specs.append(("before-call", self._before_call))
            specs.append(("after-call", self._after_call))

    @contextmanager
    def active(self, *rules: Rule) -> Iterator[list[Rule]]:
        with self._lock:
            self._rules.extend(rules)
        try:
            yield list(rules)
        finally:
            with self._lock:
                for rule in rules:
                    self._rules.remove(rule)

    # -------------------------------------------------------------------- botocore handlers
    def _remember_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["fault_api_params"] = dict(params)

    def _match(self, model: Any, context: dict[str, Any], phase: str) -> Rule | None:
        service = model.service_model.service_id.hyphenize()
        params = context.get("fault_api_params", {})
        wanted = (None, "before") if phase == "before" else ("after",)
        with self._lock:
            for rule in self._rules:
                if rule.kill in wanted and rule.matches(service, model.name, params):
                    rule.hits += 1
                    rule.seen.append(params)
                    return rule
        return None

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        rule = self._match(model, context, "before")
        if rule is None:
            return None
        if rule.kill == "before":
            raise ProcessKilled(f"killed before {rule.service}:{rule.operation}")
        http = AWSResponse("https://fault.invalid/", rule.status, {}, None)
        parsed = {
            "Error": {"Code": rule.code, "Message": f"injected {rule.code}"},
            "ResponseMetadata": {"HTTPStatusCode": rule.status, "HTTPHeaders": {}},
        }
        return http, parsed

    def _after_call(self, model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        rule = self._match(model, context, "after")
        if rule is not None:
            raise ProcessKilled(f"killed after {rule.service}:{rule.operation}")


FAULTS = FaultInjector()
FAULTS.install()
