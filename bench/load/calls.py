"""Counting every AWS call of the load run's one process by caller, service and operation (see the module
docstring of bench/embedded_load.py for how the caller is decided). Imported first: the handler must be in
botocore's BUILTIN_HANDLERS before any session exists."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from pipeline.checks import botocore_hooks

MOTO_INTERPRETER_ACCESS_KEY = "ak"  # moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for
OBSERVER = "observer (benchmark)"
STATE_MACHINE = "state machine (ASL service integrations)"
POLLER = "SQS event source poller"
GLUE_RUNNER = "Glue runner (embedded)"
UPLOADER = "uploader (S3 PutObject of the drop)"
FLUSH_SUFFIX = " [scheduled flush]"


# --------------------------------------------------------------------------------------------- call counting

ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("embedded_load_actor", default=None)


class CallCounter:
    """Counts every botocore API call of the process by (caller, service, operation), with time spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.errors: Counter[tuple[str, str, str]] = Counter()
        self.seconds: defaultdict[tuple[str, str, str], float] = defaultdict(float)
        self.upload_bucket: str | None = None
        self.put_started: float | None = None
        self.put_answered: dict[str, float] = {}
        self.start_execution_times: list[float] = []

    def install(self) -> None:
        botocore_hooks.install(self)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.errors.clear()
            self.seconds.clear()
            self.put_started = None
            self.put_answered.clear()
            self.start_execution_times.clear()

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["load_api_params"] = {k: params.get(k) for k in ("Bucket", "Key")}

    def _actor(self, service: str, operation: str, request_signer: Any, context: dict[str, Any]) -> str:
        actor = ACTOR.get()
        if actor:
            return actor
        credentials = getattr(request_signer, "_credentials", None)
        if getattr(credentials, "access_key", None) == MOTO_INTERPRETER_ACCESS_KEY:
            return STATE_MACHINE
        thread = threading.current_thread()
        if thread.name.startswith("esm-"):
            return POLLER
        if thread.name.startswith("glue-run-"):
            return GLUE_RUNNER
        if thread is threading.main_thread():
            return OBSERVER
        bucket = context.get("load_api_params", {}).get("Bucket")
        if service == "s3" and operation == "PutObject" and bucket and bucket == self.upload_bucket:
            return UPLOADER
        return f"other ({thread.name.rstrip('0123456789_-') or 'thread'})"

    def _before_call(self, model: Any, context: dict[str, Any], request_signer: Any = None, **_: Any) -> None:
        service = model.service_model.service_id.hyphenize()
        key = (self._actor(service, model.name, request_signer, context), service, model.name)
        now = time.time()
        context["load_call"] = (key, time.perf_counter())
        with self._lock:
            self.calls[key] += 1
            if key[0] == UPLOADER and self.put_started is None:
                self.put_started = now
            if key[1] == "sfn" and key[2] == "StartExecution":
                self.start_execution_times.append(now)

    def _after_call(self, context: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        started = context.get("load_call")
        if not started:
            return
        key, t0 = started
        now = time.time()
        with self._lock:
            self.seconds[key] += time.perf_counter() - t0
            if http_response is None or http_response.status_code >= 300:
                self.errors[key] += 1
            elif key[0] == UPLOADER:
                self.put_answered[str(context.get("load_api_params", {}).get("Key"))] = now

    def by_actor(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        with self._lock:
            for (actor, service, operation), count in sorted(self.calls.items()):
                key = (actor, service, operation)
                out[actor][f"{service}:{operation}"] = {
                    "calls": count,
                    "errors": self.errors.get(key, 0),
                    "seconds": round(self.seconds.get(key, 0.0), 2),
                }
        return dict(out)


COUNTER = CallCounter()
COUNTER.install()  # before any botocore session exists: sessions copy BUILTIN_HANDLERS when they are created


def attribute_lambda_invocations() -> dict[str, list[float]]:
    """Name the function behind every call its handler makes (a context variable around `LambdaRunner.invoke`,
    which every caller uses: the poller, the flush timer, Step Functions' lambda:invoke); time invocations."""
    from pipeline.embedded.lambda_runner import LambdaRunner

    durations: dict[str, list[float]] = defaultdict(list)
    original = LambdaRunner.invoke
    if getattr(original, "_load_attributed", False):
        return durations

    def invoke(self: Any, function_name: str, payload: bytes) -> bytes:
        name = function_name.rsplit(":function:", 1)[-1].split(":")[0]
        if b'"flush"' in (payload or b"") and json.loads(payload).get("action") == "flush":
            name += FLUSH_SUFFIX  # time-driven, not per file: reported per flush
        token = ACTOR.set(f"lambda {name}")
        started = time.perf_counter()
        try:
            return original(self, function_name, payload)
        finally:
            durations[name].append(time.perf_counter() - started)
            ACTOR.reset(token)

    invoke._load_attributed = True  # type: ignore[attr-defined]
    LambdaRunner.invoke = invoke  # type: ignore[method-assign]
    return durations


def moto_sqs_bridges() -> list[str]:
    """The SQS bridges in force (pipeline/embedded/bridges/): moto 5.2.5's SQS recounts every queued
    message, reading the clock twice per message, on each SendMessage and three times per received message, which
    made tracking slow down as the queue grew (docs/scaling.md#moto-sqs-counts). Since the bridges
    `sqs-counts-one-clock-read` and `sqs-retention-one-attribute` every embedded run has the fix."""
    from pipeline.embedded import bridges

    return [
        name
        for name in bridges.install()
        if name.startswith("sqs-counts") or name.startswith("sqs-retention")
    ]
