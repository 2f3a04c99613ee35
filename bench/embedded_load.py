"""Sustained load on the embedded stack (issue 7): many small files for one date through the whole real path.

Drives `pipeline.embedded.run.PipelineRun`, the code behind `pipeline demo` / `pipeline run`: Terraform
applies the project's stack to the embedded AWS (moto server), the files are put concurrently into the input
bucket, S3 notifies SQS, the event source poller feeds the manifest builder Lambda (in process), manifests start
executions of the real ASL in moto's interpreter, `glue:startJobRun.sync` runs the real Glue job on local Spark
and the status-update Lambda marks the files `completed`; `PipelineRun` then checks every line is in the lake or
in the quarantine exactly once and the DLQ is empty.

    .venv/bin/python bench/embedded_load.py [--files 10000] [--max-files-per-manifest 100 ...] [--append]
        [--max-batch-wait-seconds 30] [--flush-interval 30] [--timeout 5400]

One configuration per `--max-files-per-manifest` value, each in its own process (fresh embedded AWS, JVM and peak
RSS; work folder work/embedded-load-<batch>, kept for its logs). Writes bench/results/embedded_load.json and .md
(`--append` keeps earlier runs of other configurations). About 45 minutes per configuration on 2 cores.
moto's SQS costs O(queue depth) per message unless the bridges `sqs-counts-one-clock-read` and
`sqs-retention-one-attribute` (pipeline/embedded/bridges/, in force in every embedded run) are installed.

What is measured, and how (all timestamps come from the run itself, one wall clock, one process):
- uploads: first PutObject sent -> last PutObject answered (a botocore hook records each call);
- tracking: first upload -> the latest `created_at` of the 10,000 file items (written by the manifest builder
  when it tracks a file), and per file the lag from its PutObject answer to its `created_at`;
- manifests: the Step Functions executions' `startDate`s (per minute while files were being tracked, and overall);
  end to end: first upload -> the latest `updated_at` of the file items (the status update marking them
  `completed`) and -> the last execution's `stopDate`;
- AWS calls by caller and operation, counted by one botocore handler appended to
  `botocore.handlers.BUILTIN_HANDLERS` before any session exists, so every client in the process carries it.
  The caller is decided per call: a context variable set around each in-process Lambda invocation
  (`LambdaRunner.invoke`, wrapped here; the handlers do not start threads) names the function; calls signed with
  moto's interpreter credentials (`ak`, `moto.stepfunctions.parser.asl.utils.boto_client`) are the state
  machine's service integrations; the SQS poller's threads are `esm-*`; the Glue runner's are `glue-run-*`; the
  benchmark's own observation (PipelineRun's follow loop and verification, this script's final reads) runs on
  the main thread and is reported apart, never in the per-file numbers.
- Glue: the runner's records (runs, seconds, queue wait) and the job reports (records in / out / bad).
- memory: peak RSS of this process (`ru_maxrss`) and the sampled peak of the process tree (the Spark JVM and its
  Python workers included), with psutil every second.
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.handlers

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

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
        specs = botocore.handlers.BUILTIN_HANDLERS
        if not any(getattr(h, "__self__", None) is self for _, h, *_ in specs):
            specs.append(("before-parameter-build", self._remember_params))
            specs.append(("before-call", self._before_call))
            specs.append(("after-call", self._after_call))

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


def _attribute_lambda_invocations() -> dict[str, list[float]]:
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
    made tracking fall from 315 to 24 files a minute as the queue grew (see docs/scaling.md). Since the bridges
    `sqs-counts-one-clock-read` and `sqs-retention-one-attribute` every embedded run has the fix."""
    from pipeline.embedded import bridges

    return [
        name
        for name in bridges.install()
        if name.startswith("sqs-counts") or name.startswith("sqs-retention")
    ]


# --------------------------------------------------------------------------------------------- observation


class LoadReporter:
    """A PipelineRun Reporter that keeps stage wall-clock times and the follow loop's snapshots."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.timeline: list[dict[str, Any]] = []
        self._last_print = 0.0

    def stage_started(self, name: str, description: str) -> None:
        self.stages[name] = {"started": time.time()}
        print(f"[{_clock()}] {description}", file=sys.stderr, flush=True)

    def stage_finished(self, name: str, seconds: float) -> None:
        self.stages.setdefault(name, {})["finished"] = time.time()
        self.stages[name]["seconds"] = seconds
        print(f"[{_clock()}] {name} done in {seconds:.1f} s", file=sys.stderr, flush=True)

    def progress(self, snapshot: Any) -> None:
        now = time.time()
        self.timeline.append(
            {
                "t": now,
                "tracked": snapshot.files_tracked,
                "completed": snapshot.files_completed,
                "manifests": snapshot.manifests_started,
                "manifests_final": snapshot.manifests_final,
                "glue_runs_done": snapshot.glue_runs_done,
            }
        )
        if now - self._last_print >= 15:
            self._last_print = now
            print(
                f"[{_clock()}] tracked {snapshot.files_tracked}/{snapshot.files_total}, "
                f"manifests {snapshot.manifests_started} ({snapshot.manifests_final} final), "
                f"glue runs done {snapshot.glue_runs_done}, completed {snapshot.files_completed}",
                file=sys.stderr,
                flush=True,
            )

    def note(self, message: str) -> None:
        print(f"[{_clock()}] {message}", file=sys.stderr, flush=True)


class MemorySampler:
    """Peak RSS of this process and of its process tree (the JVM and Spark's Python workers), every second."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak_process = 0
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="load-memory-sampler")

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        import psutil

        while not self._stop.wait(1.0):
            try:
                own = self._process.memory_info().rss
                tree = own
                for child in self._process.children(recursive=True):
                    try:
                        tree += child.memory_info().rss
                    except psutil.Error:
                        continue
            except psutil.Error:
                continue
            self.peak_process = max(self.peak_process, own)
            self.peak_tree = max(self.peak_tree, tree)


def _quiet_logging(log_dir: Path) -> None:
    """As the CLI: the process log to <workdir>/logs/pipeline.log, the HTTP server's access lines off."""
    import logging

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "py4j", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "pipeline.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s %(message)s"))
    root.addHandler(handler)


def _server_errors(log: Path) -> dict[str, int]:
    """Requests the embedded AWS answered with a 500 (werkzeug logs each with its traceback), by exception."""
    found: Counter[str] = Counter()
    if not log.exists():
        return {}
    in_error = False
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "werkzeug Error on request" in line:
            in_error = True
        elif in_error and line and not line.startswith((" ", "Traceback")):
            found[line.strip()[:160]] += 1
            in_error = False
    return dict(found)


def _clock() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S")


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 3)}


# --------------------------------------------------------------------------------------------- workload


def generate_files(folder: Path, count: int, day: dt.date, seed: int) -> list[Any]:
    """`count` small NDJSON files of one date (5-20 realistic events each, `pipeline.embedded.sample_data`'s events);
    every 50th is gzip-compressed and every 100th carries one corrupt line (it must end in the quarantine)."""
    from pipeline.embedded.drop import DropFile
    from pipeline.embedded.sample_data import write_drop

    rng = random.Random(seed)
    sizes = [rng.randint(5, 20) for _ in range(count)]

    def one(index: int) -> DropFile:
        compressed = index % 50 == 49
        key = f"events/{day.isoformat()}/part-{index:05d}.ndjson" + (".gz" if compressed else "")
        stats = write_drop(
            folder / key,
            sizes[index],
            seed=seed + index,
            day=day,
            dirty_every=sizes[index] if index % 100 == 37 else None,
            gzip=compressed,
        )
        return DropFile(
            path=folder / key, key=key, size=stats.bytes, lines=stats.lines, bad_lines=stats.bad_lines
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, range(count)))


# --------------------------------------------------------------------------------------------- one configuration


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    from pipeline.embedded.run import PipelineRun, RunOptions

    durations = _attribute_lambda_invocations()
    moto_patches = moto_sqs_bridges()
    reporter = LoadReporter()
    memory = MemorySampler().start()
    load_before = os.getloadavg()
    workdir = Path(args.workdir).resolve()
    options = RunOptions(
        workdir=workdir,
        clean=True,
        max_files_per_manifest=args.max_files_per_manifest,
        max_batch_wait_seconds=args.max_batch_wait_seconds,
        flush_interval_seconds=args.flush_interval,
        timeout_seconds=args.timeout,
    )
    day = dt.datetime.now(dt.UTC).date()
    run = PipelineRun(options, reporter)
    try:
        run.prepare()
        _quiet_logging(run.layout.logs)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate") as pool:
            files_future = pool.submit(generate_files, run.layout.input, args.files, day, args.seed)
            run.start_stack()
            files = files_future.result()
        generate_done = time.monotonic() - started
        assert run.stack.outputs is not None
        COUNTER.upload_bucket = run.stack.outputs.input_bucket
        COUNTER.reset()  # only what happens from the first upload on (Terraform's and the wiring's calls out)
        for values in durations.values():
            values.clear()
        summary = run.execute(files)
        finished = time.time()
        analysis = analyse(run, files, reporter, durations)
        load_after = os.getloadavg()
    finally:
        run.stop()
        memory.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary_dict = summary.as_dict()
    manifests = summary_dict.pop("manifests")
    return {
        "configuration": {
            "files": args.files,
            "date": day.isoformat(),
            "max_files_per_manifest": args.max_files_per_manifest,
            "max_batch_wait_seconds": args.max_batch_wait_seconds,
            "flush_interval_seconds": args.flush_interval,
            "seed": args.seed,
            "moto_patches": moto_patches,
            "terraform_variables": options.tf_variables(),
        },
        "input": {
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "lines": sum(f.lines for f in files),
            "corrupt_lines": sum(f.bad_lines or 0 for f in files),
            "gzip_files": sum(1 for f in files if f.key.endswith(".gz")),
            "generate_seconds_overlapping_apply": round(generate_done, 1),
        },
        **analysis,
        "verification": {
            "ok": summary.ok,
            "problems": summary.problems,
            "files_completed": summary.files_completed,
            "files_failed": summary.files_failed,
            "records_out": summary.records_out,
            "quarantined": summary.quarantined,
            "dlq_messages": summary.dlq_messages,
            "duplicate_notifications": summary.duplicate_notifications,
            "output_files": summary.output_files,
            "output_bytes": summary.output_bytes,
            "codec": summary.codec,
        },
        "stage_seconds": summary.timings,
        "manifest_sizes": dict(sorted(Counter(m["file_count"] for m in manifests).items())),
        "memory": {
            "peak_rss_process_mib": round(peak_kib / 1024, 1),
            "peak_rss_process_tree_sampled_mib": round(memory.peak_tree / 2**20, 1),
        },
        "moto_server_errors": _server_errors(run.layout.logs / "pipeline.log"),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        "finished_at": dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(timespec="seconds"),
    }


def analyse(
    run: Any, files: list[Any], reporter: LoadReporter, durations: dict[str, list[float]]
) -> dict[str, Any]:
    """Timestamps from the run: the uploads (botocore hook), the tracking items, the executions, the Glue runs."""
    import boto3

    outputs = run.stack.outputs
    counts_during_run = COUNTER.by_actor()  # before this function's own reads
    put_answered = dict(COUNTER.put_answered)
    first_put = COUNTER.put_started or 0.0
    start_times = sorted(
        t for t in COUNTER.start_execution_times
    )  # StartExecution calls (the manifest builder's), sent times

    expected = {(outputs.input_bucket, outputs.input_prefix + f.key) for f in files}
    created: dict[tuple[str, str], float] = {}
    updated: dict[tuple[str, str], float] = {}
    statuses: Counter[str] = Counter()
    attributes = ("file_key", "bucket", "key", "status", "created_at", "updated_at")
    for item in run._scan(outputs.tracking_table, attributes):  # the observer's read, counted apart
        key = (str(item.get("bucket", "")), str(item.get("key", "")))
        if key in expected:
            created[key] = _ts(item.get("created_at")) or 0.0
            updated[key] = _ts(item.get("updated_at")) or 0.0
            statuses[str(item.get("status"))] += 1

    sfn = boto3.client("stepfunctions")
    executions: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=outputs.state_machine_arn):
        executions.extend(page["executions"])
    exec_starts = sorted(_ts(e["startDate"]) or 0.0 for e in executions)
    exec_stops = sorted(_ts(e.get("stopDate")) or 0.0 for e in executions if e.get("stopDate"))
    exec_status = Counter(e["status"] for e in executions)

    glue_runs = list(run.stack.glue_runner.runs) if run.stack.glue_runner else []
    reports = [r.report or {} for r in glue_runs if r.status == "SUCCEEDED"]

    n = len(files)
    last_put = max(put_answered.values()) if put_answered else first_put
    last_tracked = max(created.values()) if created else first_put
    last_completed = max(updated.values()) if updated else first_put
    lags = [created[k] - put_answered[k[1]] for k in created if k[1] in put_answered]
    tracking_seconds = last_tracked - first_put
    starts_while_tracking = [t for t in exec_starts if first_put <= t <= last_tracked]
    manifest_window = (exec_starts[-1] - exec_starts[0]) if len(exec_starts) > 1 else 0.0

    pipeline_actors = {
        a: ops
        for a, ops in counts_during_run.items()
        if a.startswith("lambda ") and not a.endswith(FLUSH_SUFFIX)
    }
    flush_actors = {a: ops for a, ops in counts_during_run.items() if a.endswith(FLUSH_SUFFIX)}
    flushes = sum(len(v) for k, v in durations.items() if k.endswith(FLUSH_SUFFIX))
    per_file: dict[str, dict[str, float]] = {}
    for actor, ops in sorted(
        {**pipeline_actors, STATE_MACHINE: counts_during_run.get(STATE_MACHINE, {})}.items()
    ):
        for op, data in ops.items():
            per_file.setdefault(op, {})[actor] = round(data["calls"] / n, 4)
    dynamodb_total: Counter[str] = Counter()
    for ops in pipeline_actors.values():
        for op, data in ops.items():
            if op.startswith("dynamodb:"):
                dynamodb_total[op.split(":", 1)[1]] += data["calls"]
    asl_dynamodb: Counter[str] = Counter(
        {
            op.split(":", 1)[1]: data["calls"]
            for op, data in counts_during_run.get(STATE_MACHINE, {}).items()
            if op.startswith("dynamodb:")
        }
    )
    manifests = len(executions)
    return {
        "rates": {
            "upload_seconds": round(last_put - first_put, 2),
            "upload_files_per_second": round(n / max(last_put - first_put, 1e-9), 1),
            "tracking_seconds": round(tracking_seconds, 2),
            "tracked_files_per_second": round(n / max(tracking_seconds, 1e-9), 1),
            "tracking_lag_seconds": _percentiles(lags),
            "manifests": manifests,
            "manifests_started_while_tracking": len(starts_while_tracking),
            "manifests_per_minute_while_tracking": round(
                len(starts_while_tracking) / max(tracking_seconds, 1e-9) * 60, 1
            ),
            "manifests_per_minute_first_to_last_start": round((manifests - 1) / manifest_window * 60, 1)
            if manifest_window
            else None,
            "first_upload_to_last_manifest_started_seconds": round(exec_starts[-1] - first_put, 2)
            if exec_starts
            else None,
            "first_upload_to_all_completed_seconds": round(last_completed - first_put, 2),
            "first_upload_to_last_execution_stopped_seconds": round(exec_stops[-1] - first_put, 2)
            if exec_stops
            else None,
            "end_to_end_files_per_second": round(n / max(last_completed - first_put, 1e-9), 1),
            "start_execution_calls": len(start_times),
        },
        "file_status": dict(statuses),
        "executions": dict(exec_status),
        "glue": {
            "runs": len(glue_runs),
            "succeeded": sum(1 for r in glue_runs if r.status == "SUCCEEDED"),
            "seconds": round(sum(r.seconds for r in glue_runs), 1),
            "seconds_per_run": _percentiles([r.seconds for r in glue_runs]),
            "queued_seconds_max": round(max((r.queued_seconds for r in glue_runs), default=0.0), 1),
            "records_in": sum(int(r.get("records_in", 0)) for r in reports),
            "records_out": sum(int(r.get("records_out", 0)) for r in reports),
            "bad_records": sum(int(r.get("bad_records", 0)) for r in reports),
            "failed_runs": [
                {"manifest_id": r.manifest_id, "status": r.status, "error": r.error}
                for r in glue_runs
                if r.status != "SUCCEEDED"
            ],
            "output_files": sum(
                len(r["output_files"])
                if isinstance(r.get("output_files"), list)
                else int(r.get("output_files", 0))
                for r in reports
            ),
        },
        "dynamodb_calls_per_file": {
            "pipeline_lambdas_total": round(sum(dynamodb_total.values()) / n, 4),
            "pipeline_lambdas_by_operation": {
                op: round(c / n, 4) for op, c in sorted(dynamodb_total.items())
            },
            "state_machine_by_operation": {op: round(c / n, 4) for op, c in sorted(asl_dynamodb.items())},
            "including_scheduled_flushes": round(
                (
                    sum(dynamodb_total.values())
                    + sum(
                        d["calls"]
                        for ops in flush_actors.values()
                        for op, d in ops.items()
                        if op.startswith("dynamodb:")
                    )
                )
                / n,
                4,
            ),
            "pipeline_total_with_state_machine": round(
                (sum(dynamodb_total.values()) + sum(asl_dynamodb.values())) / n, 4
            ),
        },
        "calls_per_file_by_operation_and_caller": per_file,
        "scheduled_flush": {
            "invocations": flushes,
            "calls_per_flush": {
                op: round(data["calls"] / max(flushes, 1), 2)
                for ops in flush_actors.values()
                for op, data in sorted(ops.items())
            },
            "seconds": _percentiles(
                [v for k, vs in durations.items() if k.endswith(FLUSH_SUFFIX) for v in vs]
            ),
        },
        "calls_per_manifest": {
            op: {actor: round(c * n / max(manifests, 1), 2) for actor, c in actors.items()}
            for op, actors in per_file.items()
            if op.startswith(("sfn:", "glue:", "lambda:"))
        },
        "milliseconds_per_call_pipeline_lambdas": {
            op: round(
                1000
                * sum(ops[op]["seconds"] for ops in pipeline_actors.values() if op in ops)
                / sum(ops[op]["calls"] for ops in pipeline_actors.values() if op in ops),
                1,
            )
            for op in sorted({op for ops in pipeline_actors.values() for op in ops})
        },
        "calls": counts_during_run,
        "lambda_invocations": {
            name: {
                "count": len(values),
                "seconds": _percentiles(values),
                "total_seconds": round(sum(values), 1),
            }
            for name, values in sorted(durations.items())
        },
        "poller": run.stack.poller.stats.as_dict() if run.stack.poller else {},
        "observer": {
            "snapshots": len(reporter.timeline),
            "snapshot_interval_seconds": _percentiles(
                [b["t"] - a["t"] for a, b in zip(reporter.timeline, reporter.timeline[1:], strict=False)]
            ),
        },
        "timeline": _thin_timeline(reporter.timeline, first_put),
    }


def _thin_timeline(timeline: list[dict[str, Any]], origin: float, step: float = 10.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_t = origin
    for point in timeline:
        if point["t"] >= next_t or point is timeline[-1]:
            out.append({**point, "t": round(point["t"] - origin, 1)})
            next_t = point["t"] + step
    return out


# --------------------------------------------------------------------------------------------- report


def markdown(document: dict[str, Any]) -> str:
    runs = document["runs"]
    lines = [
        "# Load run on the embedded stack",
        "",
        f"{document['date']}, {document['machine']}. Command: `{document['command']}`.",
        "",
        "Each column is one run of the real embedded path (`PipelineRun`, as `pipeline demo` / `pipeline run`): "
        "Terraform-applied stack in moto's server, S3 -> SQS -> poller -> manifest builder Lambda -> Step Functions "
        "(moto's ASL interpreter) -> Glue job on local Spark -> status-update Lambda, all in one process on "
        "2 cores. Rates are this machine's and moto's, not AWS's; call counts per file are the code's and carry "
        "over to AWS.",
        "",
        "| | "
        + " | ".join(f"{r['configuration']['max_files_per_manifest']} files / manifest" for r in runs)
        + " |",
        "| --- | " + " | ".join("---:" for _ in runs) + " |",
    ]

    def row(label: str, fn: Any) -> None:
        values = []
        for r in runs:
            try:
                value = fn(r)
            except (KeyError, TypeError, IndexError):
                value = "n/a"
            values.append(f"{value:,}" if isinstance(value, int) else str(value))
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row(
        "files (one date) / lines / MB",
        lambda r: f"{r['input']['files']:,} / {r['input']['lines']:,} / {r['input']['bytes'] / 1e6:.1f}",
    )
    row(
        "upload: seconds / files per second",
        lambda r: f"{r['rates']['upload_seconds']} / {r['rates']['upload_files_per_second']}",
    )
    row("tracked: first upload -> all tracked (s)", lambda r: r["rates"]["tracking_seconds"])
    row("**files tracked per second**", lambda r: f"**{r['rates']['tracked_files_per_second']}**")
    row(
        "tracking lag per file, p50 / p95 / max (s)",
        lambda r: "{p50} / {p95} / {max}".format(**r["rates"]["tracking_lag_seconds"]),
    )
    row("manifests (executions)", lambda r: r["rates"]["manifests"])
    row(
        "manifest sizes (files: count)",
        lambda r: ", ".join(f"{k}: {v}" for k, v in r["manifest_sizes"].items()),
    )
    row(
        "**manifests started per minute while files were tracked**",
        lambda r: f"**{r['rates']['manifests_per_minute_while_tracking']}**",
    )
    row(
        "manifests per minute, first to last start",
        lambda r: r["rates"]["manifests_per_minute_first_to_last_start"],
    )
    row(
        "first upload -> last manifest started (s)",
        lambda r: r["rates"]["first_upload_to_last_manifest_started_seconds"],
    )
    row(
        "**first upload -> every file completed (s)**",
        lambda r: f"**{r['rates']['first_upload_to_all_completed_seconds']}**",
    )
    row("end-to-end files per second", lambda r: r["rates"]["end_to_end_files_per_second"])
    row(
        "Glue runs / seconds in runs / median s per run",
        lambda r: f"{r['glue']['runs']} / {r['glue']['seconds']} / {r['glue']['seconds_per_run'].get('p50')}",
    )
    row(
        "records in / out / quarantined",
        lambda r: (
            f"{r['glue']['records_in']:,} / {r['glue']['records_out']:,} / {r['glue']['bad_records']:,}"
        ),
    )
    row(
        "**DynamoDB calls per file (both Lambdas)**",
        lambda r: f"**{r['dynamodb_calls_per_file']['pipeline_lambdas_total']}**",
    )
    for op in sorted(
        {op for r in runs for op in r["dynamodb_calls_per_file"]["pipeline_lambdas_by_operation"]}
    ):
        row(
            f"&nbsp;&nbsp;{op} per file",
            lambda r, op=op: r["dynamodb_calls_per_file"]["pipeline_lambdas_by_operation"].get(op, 0),
        )
    row(
        "DynamoDB calls per file, scheduled flushes included",
        lambda r: r["dynamodb_calls_per_file"]["including_scheduled_flushes"],
    )
    row(
        "+ state machine's DynamoDB calls per file",
        lambda r: ", ".join(
            f"{k} {v}" for k, v in r["dynamodb_calls_per_file"]["state_machine_by_operation"].items()
        ),
    )
    row(
        "SQS calls per file (poller: receive / delete batch)",
        lambda r: "{} / {}".format(
            round(r["calls"][POLLER]["sqs:ReceiveMessage"]["calls"] / r["input"]["files"], 3),
            round(r["calls"][POLLER]["sqs:DeleteMessageBatch"]["calls"] / r["input"]["files"], 3),
        ),
    )
    row(
        "StartExecution calls per manifest",
        lambda r: round(r["rates"]["start_execution_calls"] / max(r["rates"]["manifests"], 1), 2),
    )
    row(
        "ms per DynamoDB call in the Lambdas (moto, in process): PutItem / UpdateItem / Query",
        lambda r: " / ".join(
            str(r["milliseconds_per_call_pipeline_lambdas"].get(f"dynamodb:{op}", "n/a"))
            for op in ("PutItem", "UpdateItem", "Query")
        ),
    )
    row(
        "GetJobRun polls by the state machine (per manifest)",
        lambda r: round(
            r["calls"][STATE_MACHINE]["glue:GetJobRun"]["calls"] / max(r["rates"]["manifests"], 1), 1
        ),
    )
    row(
        "manifest builder invocations on SQS batches / median ms",
        lambda r: "{} / {}".format(
            r["lambda_invocations"][_builder(r)]["count"],
            round(r["lambda_invocations"][_builder(r)]["seconds"]["p50"] * 1000),
        ),
    )
    row(
        "scheduled flushes / DynamoDB calls per flush / median ms",
        lambda r: "{} / {} / {}".format(
            r["scheduled_flush"]["invocations"],
            round(
                sum(
                    v
                    for op, v in r["scheduled_flush"]["calls_per_flush"].items()
                    if op.startswith("dynamodb:")
                ),
                1,
            ),
            round(1000 * r["scheduled_flush"]["seconds"].get("p50", 0)),
        ),
    )
    row(
        "embedded AWS answers 500 (moto errors, retried by botocore)",
        lambda r: sum(r["moto_server_errors"].values()),
    )
    row(
        "moto SQS bridges in force (pipeline/embedded/bridges/)",
        lambda r: ", ".join(r["configuration"]["moto_patches"]) or "none",
    )
    row(
        "verification problems / DLQ depth",
        lambda r: f"{len(r['verification']['problems'])} / {r['verification']['dlq_messages']}",
    )
    row("files completed", lambda r: r["verification"]["files_completed"])
    row(
        "peak RSS: this process / process tree incl. JVM (MiB)",
        lambda r: (
            f"{r['memory']['peak_rss_process_mib']} / {r['memory']['peak_rss_process_tree_sampled_mib']}"
        ),
    )
    row(
        "load average before / after (1 min)",
        lambda r: f"{r['load_average']['before'][0]} / {r['load_average']['after'][0]}",
    )
    lines += [
        "",
        "Calls per file by caller (the benchmark's own observation excluded; state machine = the ASL's service "
        "integrations):",
        "",
    ]
    for r in runs:
        lines.append(f"- {r['configuration']['max_files_per_manifest']} files / manifest:")
        for op, actors in sorted(r["calls_per_file_by_operation_and_caller"].items()):
            lines.append(f"  - `{op}`: " + ", ".join(f"{a} {v}" for a, v in sorted(actors.items())))
        observer = r["calls"].get(OBSERVER, {})
        lines.append(
            "  - observer (not counted above): "
            + ", ".join(f"`{op}` {d['calls']} ({d['seconds']} s)" for op, d in sorted(observer.items()))
        )
        if r["verification"]["problems"]:
            lines.append("  - problems: " + "; ".join(r["verification"]["problems"]))
    return "\n".join(lines) + "\n"


def _builder(result: dict[str, Any]) -> str:
    names = [n for n in result["lambda_invocations"] if not n.endswith(FLUSH_SUFFIX)]
    return next((n for n in names if "manifest" in n or "builder" in n), names[0])


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument(
        "--max-files-per-manifest",
        type=int,
        action="append",
        help="one run per value (default: 100, terraform/variables.tf's default)",
    )
    parser.add_argument(
        "--max-batch-wait-seconds",
        type=int,
        default=30,
        help="30 (pipeline demo: 3, production: 300): under load batches close by count; this bounds the tail",
    )
    parser.add_argument(
        "--flush-interval",
        type=float,
        default=30.0,
        help="30 s (pipeline demo: 2 s, production: 5 min): each flush costs several O(table) queries in moto",
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--workdir", default=None, help="work folder (default: a fresh temporary one per run)"
    )
    parser.add_argument(
        "--one", type=Path, default=None, help=argparse.SUPPRESS
    )  # child: write one result here
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/results")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the runs of other configurations already in bench/results/embedded_load.json",
    )
    args = parser.parse_args(argv)
    batches = args.max_files_per_manifest or [100]

    if args.one is not None:
        args.max_files_per_manifest = batches[0]
        result = run_one(args)
        args.one.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        return 0 if result["verification"]["ok"] else 1

    runs: list[dict[str, Any]] = []
    failed = False
    for batch in batches:
        with tempfile.TemporaryDirectory(prefix="embedded-load-") as tmp:
            out = Path(tmp) / "result.json"
            # kept after the run (logs/ for diagnosis); `work/` is git-ignored, --clean empties it next time
            workdir = args.workdir or str(REPO / "work" / f"embedded-load-{batch}")
            command = [
                sys.executable, __file__, "--one", str(out), "--files", str(args.files),
                "--max-files-per-manifest", str(batch), "--max-batch-wait-seconds", str(args.max_batch_wait_seconds),
                "--flush-interval", str(args.flush_interval), "--timeout", str(args.timeout),
                "--seed", str(args.seed), "--workdir", workdir,
            ]  # fmt: skip
            print(f"== {args.files:,} files, {batch} files per manifest", file=sys.stderr, flush=True)
            code = subprocess.run(command, cwd=REPO, check=False).returncode
            if not out.exists():
                print(f"the run with {batch} files per manifest failed (exit {code})", file=sys.stderr)
                failed = True
                continue
            runs.append(json.loads(out.read_text(encoding="utf-8")))
            failed = failed or code != 0
    if not runs:
        return 1
    if args.append and (RESULTS / "embedded_load.json").exists():
        previous = json.loads((RESULTS / "embedded_load.json").read_text(encoding="utf-8"))
        mine = {(r["configuration"]["max_files_per_manifest"], r["configuration"]["files"]) for r in runs}
        kept = [
            r
            for r in previous.get("runs", [])
            if (r["configuration"]["max_files_per_manifest"], r["configuration"]["files"]) not in mine
        ]
        runs = sorted(kept + runs, key=lambda r: r["configuration"]["max_files_per_manifest"])
        argv = [*argv, f"(+ {len(kept)} earlier run(s): {previous.get('command')})"] if kept else argv
    document = {
        "benchmark": "sustained load on the embedded stack (issue 7)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {_memory_gib()} GiB, Python "
        f"{platform.python_version()}, {platform.platform()}",
        "command": "python bench/embedded_load.py " + " ".join(argv),
        "runs": runs,
    }
    text = markdown(document)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "embedded_load.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "embedded_load.md").write_text(text, encoding="utf-8")
    return 1 if failed else 0


def _memory_gib() -> int:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30)
    except ImportError:
        return 0


def rewrite_markdown() -> None:
    """Regenerate the .md from the .json (after editing ``markdown``)."""
    document = json.loads((RESULTS / "embedded_load.json").read_text(encoding="utf-8"))
    (RESULTS / "embedded_load.md").write_text(markdown(document), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
