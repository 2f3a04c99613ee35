"""AWS faults injected at the botocore port: one dispatcher appended to botocore's built-in handlers, so every
botocore session created afterwards (the handler's own `boto3.session.Session()` at cold start, the operator
commands' sessions) carries it. A rule matches a service and operation (and optionally the call's API parameters)
and either answers with an AWS error response instead of sending the request (botocore then raises the
service's modeled exception, exactly as for a real error) or "kills the process" before or after the request
(a BaseException our code cannot catch, like a Lambda sandbox dying). With no rule active it does nothing."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

from pipeline.checks import botocore_hooks
from pipeline.control_plane.adapters.backoff import RetryPolicy


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
    lose_answer: bool = False  # the call succeeds, then its answer never arrives (a read timeout)
    answer: Callable[[], str] | None = None  # picks the error code of each hit (default: `code`)
    hits: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, service: str, operation: str, params: dict[str, Any]) -> bool:
        if (service, operation) != (self.service, self.operation):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return bool(self.when(params))


def is_status_update_write(params: dict[str, Any]) -> bool:
    """The status update's one DynamoDB write: the MANIFEST item's final status (completion by reference: no file
    is written), told from the state machine's "mark processing" and retry's writes by its ``completed_at``."""
    key = str(params.get("Key", {}).get("file_key", {}).get("S", ""))
    return key.startswith("MANIFEST#") and "completed_at = :now" in str(params.get("UpdateExpression", ""))


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def install(self) -> None:
        botocore_hooks.install(self)

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
        code = rule.answer() if rule.answer is not None else rule.code
        http = AWSResponse("https://fault.invalid/", rule.status, {}, None)
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": rule.status, "HTTPHeaders": {}},
        }
        return http, parsed

    def _after_call(self, model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        rule = self._match(model, context, "after")
        if rule is not None and rule.lose_answer:
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url=f"{rule.service}:{rule.operation} (answer lost)")
        if rule is not None:
            raise ProcessKilled(f"killed after {rule.service}:{rule.operation}")


FAULTS = FaultInjector()
FAULTS.install()


# ------------------------------------------------------------------------------------------------ throttling
def claim_record_call(operation: str, params: dict[str, Any]) -> str | None:
    """Which step of the manifest builder's claim and record paths (pipeline/control_plane/adapters/tracking.py) a DynamoDB call is, or
    None for other calls (tracking a new file, the state machine's own writes, the status update, reads of the
    manifest index shared with the status update)."""

    def key_of(name: str) -> str:
        return str(params.get(name, {}).get("file_key", {}).get("S", ""))

    if operation == "PutItem":
        return "put_claim" if key_of("Item").startswith("CLAIM#") else None
    if operation == "DeleteItem":
        return "delete_claim" if key_of("Key").startswith("CLAIM#") else None
    if operation == "Query":
        index = params.get("IndexName")
        return {"pending-index": "query_pending", "open-claims-index": "open_claims"}.get(str(index))
    if operation != "UpdateItem":
        return None
    key = key_of("Key")
    condition = str(params.get("ConditionExpression", ""))
    if key == "META#LEASE":
        return "lease"
    if key == "META#PENDING":
        return "counter"
    if key.startswith("MANIFEST#"):
        return (
            "record_manifest"
            if "if_not_exists(#status, :pending)" in params.get("UpdateExpression", "")
            else None
        )
    if condition == "#status = :pending":
        return "claim_file"
    if condition == "#status = :manifested AND manifest_id = :m":
        return "release_file"
    return None


class ThrottleStorm:
    """DynamoDB throttling of the claim and record paths, from a seeded RNG: every call of those paths (retries
    included) is answered `ProvisionedThroughputExceededException` or `ThrottlingException` with probability
    `rate`, but never on the last attempt the builder's retry policy makes (so random throttling is absorbed);
    and the n-th logical call (retries not counted) of a step named in `exhaust`, e.g. `{"claim_file": (3,)}`, is
    throttled on every attempt, so that it fails for good. The thread interleaving is not seeded: which file or
    manifest the n-th call is about varies from run to run, what fails does not."""

    OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "Query")
    CODES = ("ProvisionedThroughputExceededException", "ThrottlingException")

    def __init__(self, rate: float, seed: int, exhaust: dict[str, tuple[int, ...]] | None = None) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.exhaust = exhaust or {}
        self.attempts = RetryPolicy().max_attempts
        self.calls: Counter[str] = Counter()  # logical calls per step (a retry is the same call)
        self.throttled: Counter[str] = Counter()  # throttled attempts per step
        self.exhausted: list[
            tuple[str, dict[str, Any]]
        ] = []  # (step, API parameters) of calls failed for good
        self._lock = threading.Lock()
        self._last: dict[int, tuple[str, str, int, int]] = {}  # thread -> (step, parameters, due, streak)

    def rules(self) -> list[Rule]:
        return [
            Rule("dynamodb", operation, when=self._decider(operation), answer=self._code)
            for operation in self.OPERATIONS
        ]

    def _code(self) -> str:
        with self._lock:
            return self.rng.choice(self.CODES)

    def _decider(self, operation: str) -> Callable[[dict[str, Any]], bool]:
        return lambda params: self._decide(operation, params)

    def _decide(self, operation: str, params: dict[str, Any]) -> bool:
        step = claim_record_call(operation, params)
        if step is None:
            return False
        fingerprint = json.dumps(params, sort_keys=True, default=str)
        me = threading.get_ident()
        with self._lock:
            last = self._last.pop(me, None)
            if last is not None and last[:2] == (step, fingerprint):  # a retry of the call throttled last
                due, streak = last[2], last[3]
            else:
                self.calls[step] += 1
                due, streak = 0, 0
                if self.calls[step] in self.exhaust.get(step, ()):
                    due = self.attempts
                    self.exhausted.append((step, params))
            # A random throttle never takes a call's last attempt: only the chosen calls fail for good.
            fire = due > 0 or (streak < self.attempts - 1 and self.rng.random() < self.rate)
            if fire:
                self.throttled[step] += 1
                self._last[me] = (step, fingerprint, max(0, due - 1), streak + 1)
            return fire

    def exhausted_steps(self) -> set[str]:
        with self._lock:
            return {step for step, _ in self.exhausted}


# ------------------------------------------------------------------------------------------------ local disk
class StagingDiskFull:
    """The local volume of a Glue run's staging directory fills up while a Spark task writes Parquet.

    The embedded Glue runner of the harness runs the job with `--OUTPUT_PATH` on a local lake folder, so every
    task writes its files under `<lake>/_staging/<manifest_id>/<run>/` (pieces in the parse stage, Parquet in the
    write stage). Armed with `watch()`, a thread waits for the next run's parse stage to have staged its first
    piece (an output file of the run is on disk) and then points the Parquet file its first write task is about to
    create at `/dev/full`: the task's own `write()` fails with ENOSPC, as on a full disk, inside the Spark task.
    Nothing of the job is patched; only the filesystem under it misbehaves. One run is hit, then it disarms."""

    def __init__(self, lake: Path, target: str = "/dev/full") -> None:
        self.lake = lake
        self.target = target
        self.hits: list[Path] = []  # the planted files (one per hit run)
        self.pieces_before_hit: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _runs(self) -> Iterator[Path]:
        staging = self.lake / "_staging"
        for manifest_dir in staging.glob("*") if staging.is_dir() else ():
            yield from manifest_dir.glob("*")

    def _watch(self) -> None:
        while not self._stop.is_set():
            for run in self._runs():
                planted = run / "out" / f"{run.parent.name}.part-00000-000.parquet"
                try:
                    pieces = [p for p in (run / "pieces").glob("*.arrow") if p.stat().st_size > 0]
                    if not pieces:
                        continue
                    planted.parent.mkdir(parents=True, exist_ok=True)
                    planted.symlink_to(self.target)
                except OSError:
                    continue  # the task got there first, or the run ended: keep watching
                self.hits.append(planted)
                self.pieces_before_hit.append(len(pieces))
                return
            self._stop.wait(0.001)

    @contextmanager
    def watch(self) -> Iterator[StagingDiskFull]:
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="staging-disk-full", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)


# ------------------------------------------------------------------------------------------------ S3 over HTTP
class S3WriteRefusals:
    """WSGI middleware around moto's server app: S3 writes (PUT / POST, so PutObject and every multipart step)
    whose path matches `when` are answered with an S3 error instead of reaching moto, `times` times (None: every
    time). This is the fault seen by clients that are not botocore, e.g. the pyarrow S3 client inside the Glue
    job's Spark tasks: a 403 AccessDenied (not retried) or a 503 SlowDown (retried by the client, then given up)."""

    def __init__(
        self,
        app: Callable[..., Any],
        when: Callable[[str], bool],
        code: str = "AccessDenied",
        status: str = "403 Forbidden",
        times: int | None = 1,
    ) -> None:
        self.app = app
        self.when = when
        self.code = code
        self.status = status
        self.times = times
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in ("PUT", "POST") and self.when(path):
            with self._lock:
                refuse = self.times is None or len(self.refused) < self.times
                if refuse:
                    self.refused.append(path)
            if refuse:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{self.code}</Code><Message>injected {self.code}</Message>"
                    "<RequestId>fault-injection</RequestId></Error>"
                ).encode()
                start_response(
                    self.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
                )
                return [body]
        return self.app(environ, start_response)


@contextmanager
def faulty_s3_endpoint(middleware: Callable[[Any], Any]) -> Iterator[str]:
    """A second HTTP endpoint onto this process's moto backends (the embedded AWS's buckets), its app wrapped by
    `middleware`; yields its URL."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from pipeline.embedded.server import free_port

    app = middleware(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", free_port(), app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="faulty-s3", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
