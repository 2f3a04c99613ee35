"""`pipeline demo` and `pipeline run`: drop files into the embedded stack and follow them to the lake.

The flow is the production one: objects are put into the input bucket, S3 notifies SQS, the poller feeds the
manifest builder, executions run the Glue job, the status update marks files `completed`. This module only
drops the files and starts the stages: it watches (pipeline/embedded/follow.py: the tracking table, the executions,
the Glue runner's records), shows progress (summary.py), and checks the end state (verify.py): every input line is
in the lake or in the quarantine, and every file reached `completed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.contracts.errors import PipelineError
from pipeline.embedded.drop import DropFile
from pipeline.embedded.follow import (
    FINAL_FILE_STATES,
    FINAL_MANIFEST_STATES,
    FOLLOW_INTERVAL_SECONDS,
    Expected,
    executions_running,
    raise_timeout,
    take_snapshot,
)
from pipeline.embedded.layout import StackOutputs, WorkLayout
from pipeline.embedded.preflight import key_date
from pipeline.embedded.server import harness_client
from pipeline.embedded.stack import EmbeddedStack
from pipeline.embedded.summary import (
    Reporter,
    RunSummary,
    SilentReporter,
    Snapshot,
    busy_seconds,
    write_run_info,
)
from pipeline.embedded.verify import verify

logger = logging.getLogger(__name__)


@dataclass
class RunOptions:
    workdir: Path
    port: int | None = None
    clean: bool = False
    compression: str | None = None
    table_format: str = "iceberg"  # Terraform variable table_format
    max_files_per_manifest: int = 10
    max_batch_wait_seconds: int = 3
    flush_interval_seconds: float = 2.0
    timeout_seconds: float = 900.0
    duplicate_notification: bool = True
    keep_running: bool = False
    terraform_variables: dict[str, Any] = field(default_factory=dict)

    def tf_variables(self) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "max_files_per_manifest": self.max_files_per_manifest,
            "max_batch_wait_seconds": self.max_batch_wait_seconds,
            # The embedded stack lives and dies with the process: nothing to protect.
            "force_destroy": True,
            "deletion_protection": False,
            # moto applies the TLS-only Deny to the embedded endpoint's plain HTTP: the embedded AWS has no TLS.
            "enforce_tls_bucket_policies": False,
            "retry_interval_seconds": 1,
            # Runs queue inside the local runner (one Spark), not in Step Functions' start retries, which fail a
            # manifest when more runs wait than the limit (docs/scaling.md#local-glue-runs-queue).
            "glue_max_concurrent_runs": 10_000,
            "glue_retry_interval_seconds": 1,
            "sqs_maximum_batching_window_seconds": 1,
        }
        if self.compression:
            variables["compression_type"] = self.compression
        variables["table_format"] = self.table_format
        variables.update(self.terraform_variables)
        return variables


class DuplicateNotifier:
    """Delivers the first S3 object notification a second time, byte for byte (S3 delivers at least once)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.sent = 0
        self._lock = threading.Lock()
        self._sqs: Any = None

    def __call__(self, mapping: Any, messages: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        for message in messages:
            body = message.get("Body", "")
            if '"ObjectCreated:' not in body:
                continue
            with self._lock:
                if self.sent:
                    return
                self.sent = 1
            if self._sqs is None:
                self._sqs = harness_client("sqs")
            self._sqs.send_message(QueueUrl=mapping.queue_url, MessageBody=body)
            logger.info("duplicate notification sent for message %s", message.get("MessageId"))
            return


TRACKING = "Tracking files (S3 -> SQS -> manifest builder)"
PROCESSING = "Converting batches (Step Functions -> Glue -> status)"


@dataclass
class _Stage:
    name: str
    started: float
    description: str = ""


class PipelineRun:
    """One `demo` or `run`: start the stack, drop the files, follow them to the lake, verify, summarise."""

    def __init__(self, options: RunOptions, reporter: Reporter | None = None) -> None:
        self.options = options
        self.reporter = reporter or SilentReporter()
        self.layout = WorkLayout(options.workdir.resolve())
        self.duplicates = DuplicateNotifier(options.duplicate_notification)
        self.stack = EmbeddedStack(
            self.layout,
            port=options.port,
            terraform_variables=options.tf_variables(),
            flush_interval_seconds=options.flush_interval_seconds,
            on_messages=self.duplicates,
        )
        self.summary = RunSummary(workdir=str(self.layout.root))
        self._started = time.monotonic()
        self._stage: _Stage | None = None  # the stage begun last: where an interruption found the run
        self._snapshot: Snapshot | None = None  # the last look at the files and batches
        self._expected: Expected | None = None  # the files uploaded, once they are
        self._stopped = False

    # ----------------------------------------------------------------------------------------- stages

    def _begin(self, name: str, description: str) -> _Stage:
        self.reporter.stage_started(name, description)
        self._stage = _Stage(name, time.monotonic(), description)
        return self._stage

    def _end(self, stage: _Stage, ended: float | None = None) -> None:
        seconds = round((time.monotonic() if ended is None else ended) - stage.started, 2)
        self.summary.timings[stage.name] = seconds
        self.reporter.stage_finished(stage.name, seconds)

    def prepare(self) -> WorkLayout:
        """Create (or clean) the work folder and start the JVM in the background. The previous run's table is
        replaced (docs/embedded.md#running-again-in-the-same-work-folder)."""
        self.summary.replaced_previous_table = self.layout.prepare(clean=self.options.clean)
        if self.options.table_format == "parquet" and self.layout.has_table():
            # A lake folder the user made is never emptied; Parquet files would add to what it holds.
            raise PipelineError.named(
                "LakeNotEmpty",
                f"The lake folder {self.layout.lake} holds files this command did not create, and a Parquet run "
                "would add its rows to them.",
                "Use another --workdir, or remove the lake folder yourself.",
                exit_code=2,
            )
        self.stack.start_spark()
        return self.layout

    def start_stack(self) -> StackOutputs:
        self.stack.start_spark()
        self.stack.start_terraform_init()
        self.stack.start_lambda_zip()
        stage = self._begin("aws_start", "Starting the embedded AWS")
        aws = self.stack.start_aws()
        self.summary.endpoint_url = aws.endpoint_url
        self._end(stage)
        return self._apply()

    def _apply(self) -> StackOutputs:
        stage = self._begin("terraform_apply", "Applying terraform/ to the embedded AWS")
        outputs = self.stack.apply_stack()
        self._end(stage)
        stage = self._begin("runtime", "Wiring Lambda, Glue, the SQS poller and the flush schedule")
        self.stack.wire_runtime()
        self._end(stage)
        self.summary.table_name = outputs.table_name
        self.summary.compression_argument = outputs.compression_type or None
        return outputs

    def execute(self, files: list[DropFile]) -> RunSummary:
        """Upload, follow, verify. The stack must be started."""
        outputs = self.stack.outputs
        assert outputs is not None
        self.summary.files = len(files)
        self.summary.input_bytes = sum(f.size for f in files)
        self.summary.lines = sum(f.lines for f in files)
        if all(f.bad_lines is not None for f in files):
            self.summary.expected_bad_lines = sum(f.bad_lines or 0 for f in files)
        self.stack.spark()  # the JVM started long ago; do not count its start as conversion time

        self._announce_undated(outputs, files)
        stage = self._begin("upload", f"Uploading {len(files)} files to s3://{outputs.input_bucket}")
        expected = self._upload(outputs, files)
        self._expected = expected
        self._end(stage)
        self._follow(outputs, expected, files)
        stage = self._begin("verify", "Checking every line is in the lake or in the quarantine")
        try:
            verify(self.summary, outputs, expected, self.layout, self.stack.glue_runner)
        except PipelineError:
            self.stack.raise_if_denied()  # a denied request is the cause to name, wherever it was swallowed
            raise
        self.stack.raise_if_denied()
        self._end(stage)
        self.summary.duplicate_notifications = self.duplicates.sent
        self.summary.timings["total"] = round(time.monotonic() - self._started, 2)
        for name, seconds in self.stack.timings.seconds.items():
            self.summary.timings.setdefault(name, seconds)
        write_run_info(self.summary, self.layout)
        return self.summary

    def stop(self) -> None:
        """Stop the embedded AWS, the runtime and Spark (once: later calls do nothing)."""
        if not self._stopped:
            self._stopped = True
            self.stack.stop()

    def look_again(self) -> None:
        """One more look at the files and batches (after an interruption, while the embedded AWS still runs), so
        that `interrupted()` tells what was done until then rather than at the previous look."""
        outputs, expected = self.stack.outputs, self._expected
        if outputs is None or expected is None or self._stopped:
            return
        try:
            self._snapshot, _, _ = take_snapshot(
                outputs, expected, self.stack.glue_runner, self.summary.lines
            )
        except Exception:  # the last look is only a courtesy: the previous one is still true
            logger.debug("no last look at the tracking table", exc_info=True)
            return
        snap = self._snapshot
        if (
            self._stage is not None
            and self._stage.name == "tracking"
            and (snap.manifests_started or snap.glue_runs_started)
        ):
            self._stage = _Stage("processing", time.monotonic(), PROCESSING)

    def interrupted(self) -> str:
        """What an interruption (Ctrl-C) leaves, in one sentence: where the run was, what it had done, where to look,
        how to go on."""
        stage = (
            self._stage.description[:1].lower() + self._stage.description[1:] if self._stage else "starting"
        )
        done = f"interrupted after {time.monotonic() - self._started:.0f} s while {stage.rstrip('.')}"
        snap = self._snapshot
        if snap is not None:
            done += (
                f": {snap.files_completed} of {snap.files_total} files completed"
                + (f", {snap.files_failed} failed" if snap.files_failed else "")
                + f", {snap.manifests_final} of {snap.manifests_started} batches finished, "
                f"{snap.records_converted:,} of {snap.records_total:,} records converted"
            )
        state = "stopped" if self._stopped else "stopping"
        return (
            f"{done}. The embedded AWS and Spark were {state} (a batch still running is lost with them) and "
            f"nothing of this run was verified; look at {self.layout.lake} and {self.layout.logs}, or run the "
            "same command again to start over (it replaces this run's table)."
        )

    # ----------------------------------------------------------------------------------------- upload

    def _announce_undated(self, outputs: StackOutputs, files: list[DropFile]) -> None:
        """Name the files whose key has no date folder: the manifest builder puts them into the partition of
        the upload day (UTC), not a date of their own (docs/analysts.md#partitions)."""
        undated = [f.key for f in files if key_date(outputs.input_prefix + f.key) is None]
        if not undated:
            return
        day = dt.datetime.now(dt.UTC).date().isoformat()
        self.summary.undated_files = undated
        self.summary.undated_partition = day
        shown = ", ".join(undated[:5]) + (f" and {len(undated) - 5} more" if len(undated) > 5 else "")
        self.reporter.note(
            f"no date folder: {len(undated)} file{'' if len(undated) == 1 else 's'} not under a YYYY-MM-DD/ "
            f"(or dt=YYYY-MM-DD/) folder {'lands' if len(undated) == 1 else 'land'} in partition dt={day}, the "
            f"day of the upload (UTC): {shown}"
        )

    def _upload(self, outputs: StackOutputs, files: list[DropFile]) -> Expected:
        s3 = harness_client("s3")
        bucket, prefix = outputs.input_bucket, outputs.input_prefix
        expected = {(bucket, prefix + f.key): f for f in files}

        def put(item: DropFile) -> None:
            s3.upload_file(str(item.path), bucket, prefix + item.key)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(put, files))
        return expected

    # ----------------------------------------------------------------------------------------- follow

    def _follow(self, outputs: StackOutputs, expected: Expected, files: list[DropFile]) -> None:
        deadline = time.monotonic() + self.options.timeout_seconds
        tracking = self._begin("tracking", TRACKING)
        processing: _Stage | None = None
        tracked = False
        snapshot = Snapshot()
        while True:
            looked = time.monotonic()
            snapshot, file_status, manifests = take_snapshot(
                outputs, expected, self.stack.glue_runner, self.summary.lines
            )
            # A scan costs time in proportion to the table's items: look again after twice that, so following takes
            # at most a third of the process from the pipeline it follows (docs/scaling.md#following-a-large-drop).
            pause = max(FOLLOW_INTERVAL_SECONDS, 2 * (time.monotonic() - looked))
            self._snapshot = snapshot
            self.reporter.progress(snapshot)
            if not tracked and snapshot.files_tracked == snapshot.files_total:
                self._end(tracking)
                tracked = True
            if processing is None and (snapshot.manifests_started or snapshot.glue_runs_started):
                # The batches stage starts with the first batch, which may be before the last file is tracked:
                # every Glue run then lies within it (docs/embedded.md#timings).
                processing = self._begin("processing", PROCESSING)
                processing.started = min([looked, *self._glue_run_starts()])
            all_final = all(file_status.get(key) in FINAL_FILE_STATES for key in expected)
            manifests_final = all(m.get("status") in FINAL_MANIFEST_STATES for m in manifests)
            if all_final and manifests_final and executions_running(outputs) == 0:
                break
            if time.monotonic() > deadline:
                raise_timeout(
                    snapshot, file_status, manifests, expected, self.options.timeout_seconds, self.layout.logs
                )
            time.sleep(pause)
        ended = time.monotonic()
        glue_runs = self.stack.glue_runner.runs if self.stack.glue_runner else []
        self.summary.glue_runs = len(glue_runs)
        self.summary.glue_seconds = round(sum(r.seconds for r in glue_runs), 2)
        if processing is not None:
            self._end(processing, ended)
            # "of which Glue job runs": the part of the batches stage during which a Glue run was running.
            self.summary.timings["glue_runs"] = round(
                busy_seconds(
                    [(r.started_at, r.finished_at) for r in glue_runs if r.started_at is not None],
                    processing.started,
                    ended,
                ),
                2,
            )

    def _glue_run_starts(self) -> list[float]:
        runs = self.stack.glue_runner.runs if self.stack.glue_runner else []
        return [r.started_at for r in list(runs) if r.started_at is not None]
