"""`pipeline demo` and `pipeline run`: drop files into the embedded stack and follow them to the lake.

The flow is the production one: objects are put into the input bucket, S3 notifies SQS, the poller feeds the
manifest builder, executions run the Glue job, the status update marks files `completed`. This module only
watches (the tracking table, the executions, the Glue runner's records), shows progress, and checks the end state:
every input line is in the lake or in the quarantine, and every file reached `completed`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3

from pipeline.contracts.lines import count_records
from pipeline.contracts.suffixes import is_gzip_name
from pipeline.control_plane.domain.items import MANIFEST_KEY_PREFIX
from pipeline.embedded.errors import PipelineError
from pipeline.embedded.preflight import InputFile
from pipeline.embedded.query import RUN_INFO_FILE
from pipeline.embedded.server import REGION
from pipeline.embedded.stack import EmbeddedStack, StackOutputs, WorkLayout

logger = logging.getLogger(__name__)

FINAL_FILE_STATES = ("completed", "failed")
FINAL_MANIFEST_STATES = ("completed", "failed")
APPROX_EVENT_BYTES = 740  # average size of one sample_data event as NDJSON
FOLLOW_INTERVAL_SECONDS = 0.5  # between two looks at the tracking table, at least
# What following and verifying read from the tracking table (file items and MANIFEST items): a projection, because
# moto serialises every attribute of every scanned item (a full scan of 10,000 file items took 17 s, 8 s projected).
SNAPSHOT_ATTRIBUTES = (
    "file_key",
    "bucket",
    "key",
    "status",
    "manifest_id",
    "date_prefix",
    "file_count",
    "execution_arn",
    "records_in",
    "records_out",
    "bad_records",
    "output_files",
    "bytes_out",
    "error",
)


# --------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DemoSpec:
    files: int = 20
    total_mb: float = 50.0
    seed: int = 20261122
    gzip_every: int = 10  # every 10th file gzip-compressed (the job reads both)
    dirty_file_count: int = 3  # files holding a few corrupt lines
    bad_lines_per_dirty_file: int = 3

    def dirty_files(self) -> set[int]:
        count = min(self.dirty_file_count, self.files)
        return {
            round(i * (self.files - 1) / max(count, 1)) + (1 if count < self.files else 0)
            for i in range(count)
        } & set(range(self.files))


@dataclass(frozen=True)
class DropFile:
    path: Path
    key: str
    size: int
    lines: int  # non-blank lines: each one must end in the lake or in the quarantine
    bad_lines: int | None = None  # known for generated files


def generate_demo_drop(folder: Path, spec: DemoSpec, today: dt.date | None = None) -> list[DropFile]:
    """Two dates of realistic events with a few corrupt lines and one schema change (the second date's second
    half gains fields), laid out as `events/<date>/part-<nn>.ndjson[.gz]`."""
    from pipeline.embedded.sample_data import write_drop

    if spec.files < 2:
        raise PipelineError(
            "InvalidOption",
            f"--files must be at least 2 (one per date), got {spec.files}.",
            "Pass --files 2 or more.",
            exit_code=2,
        )
    today = today or dt.datetime.now(dt.UTC).date()
    dates = (today - dt.timedelta(days=1), today)
    per_file = max(10, int(spec.total_mb * 1_000_000 / APPROX_EVENT_BYTES / spec.files))
    files: list[DropFile] = []
    first_date_files = spec.files // 2
    dirty = spec.dirty_files()
    dirty_every = max(1, per_file // max(spec.bad_lines_per_dirty_file, 1))
    for index in range(spec.files):
        day = dates[0] if index < first_date_files else dates[1]
        position = index - (0 if index < first_date_files else first_date_files)
        second_half = position >= (spec.files - first_date_files) // 2
        drift = day == dates[1] and second_half
        compressed = spec.gzip_every > 0 and index % spec.gzip_every == spec.gzip_every - 1
        key = f"events/{day.isoformat()}/part-{index:04d}.ndjson" + (".gz" if compressed else "")
        path = folder / key
        stats = write_drop(
            path,
            per_file,
            seed=spec.seed + index,
            day=day,
            dirty_every=dirty_every if index in dirty else None,
            gzip=compressed,
            drift=drift,
        )
        files.append(
            DropFile(path=path, key=key, size=stats.bytes, lines=stats.lines, bad_lines=stats.bad_lines)
        )
    return files


def count_lines(path: Path) -> int:
    """Records of an NDJSON file (gzip when it ends in .gz), by the job's own line rule (pipeline.contracts.lines)."""
    opener = gzip.open if is_gzip_name(path.name) else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        return count_records(handle)


def drop_files_from(inputs: list[InputFile]) -> list[DropFile]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda f: count_lines(f.path), inputs))
    return [
        DropFile(path=f.path, key=f.key, size=f.size, lines=n) for f, n in zip(inputs, counts, strict=True)
    ]


# --------------------------------------------------------------------------------------------- progress


@dataclass
class Snapshot:
    files_total: int = 0
    files_tracked: int = 0
    files_completed: int = 0
    files_failed: int = 0
    manifests_started: int = 0
    manifests_final: int = 0
    glue_runs_done: int = 0
    glue_runs_started: int = 0
    records_total: int = 0
    records_converted: int = 0


class Reporter(Protocol):
    def stage_started(self, name: str, description: str) -> None: ...

    def stage_finished(self, name: str, seconds: float) -> None: ...

    def progress(self, snapshot: Snapshot) -> None: ...

    def note(self, message: str) -> None: ...


class SilentReporter:
    def stage_started(self, name: str, description: str) -> None:
        logger.info("stage %s: %s", name, description)

    def stage_finished(self, name: str, seconds: float) -> None:
        logger.info("stage %s done in %.1fs", name, seconds)

    def progress(self, snapshot: Snapshot) -> None:
        return None

    def note(self, message: str) -> None:
        logger.info("%s", message)


# --------------------------------------------------------------------------------------------- options/results


@dataclass
class RunOptions:
    workdir: Path
    port: int | None = None
    clean: bool = False
    compression: str | None = None
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
            # Runs queue inside the local runner (one Spark), not in Step Functions' start retries: with 50, a load
            # of 10,000 files (100 manifests faster than one local Spark converts them) had more than 50 runs
            # waiting, and the 51st start failed its manifest after the state machine's retries
            # (Glue.ConcurrentRunsExceededException, bench/embedded_load.py).
            "glue_max_concurrent_runs": 10_000,
            "glue_retry_interval_seconds": 1,
            "sqs_maximum_batching_window_seconds": 1,
        }
        if self.compression:
            variables["compression_type"] = self.compression
        variables.update(self.terraform_variables)
        return variables


@dataclass
class ManifestResult:
    manifest_id: str
    date_prefix: str
    status: str
    file_count: int
    execution_arn: str | None
    records_in: int | None
    records_out: int | None
    bad_records: int | None
    output_files: int | None
    bytes_out: int | None
    error: str | None = None
    lake_rows: int | None = None
    quarantine_lines: int | None = None


@dataclass
class RunSummary:
    workdir: str
    files: int = 0
    input_bytes: int = 0
    lines: int = 0
    expected_bad_lines: int | None = None
    files_completed: int = 0
    files_failed: int = 0
    manifests: list[ManifestResult] = field(default_factory=list)
    records_out: int = 0
    quarantined: int = 0
    output_files: int = 0
    output_bytes: int = 0
    codec: str | None = None
    compression_argument: str | None = None
    duplicate_notifications: int = 0
    dlq_messages: int = 0
    glue_runs: int = 0
    glue_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    table_name: str = "events"
    endpoint_url: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# --------------------------------------------------------------------------------------------- the run


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
                self._sqs = boto3.client("sqs", region_name=REGION)
            self._sqs.send_message(QueueUrl=mapping.queue_url, MessageBody=body)
            logger.info("duplicate notification sent for message %s", message.get("MessageId"))
            return


@dataclass
class _Stage:
    name: str
    started: float


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

    # ----------------------------------------------------------------------------------------- stages

    def _begin(self, name: str, description: str) -> _Stage:
        self.reporter.stage_started(name, description)
        return _Stage(name, time.monotonic())

    def _end(self, stage: _Stage) -> None:
        seconds = round(time.monotonic() - stage.started, 2)
        self.summary.timings[stage.name] = seconds
        self.reporter.stage_finished(stage.name, seconds)

    def prepare(self) -> WorkLayout:
        """Create (or clean) the work folder and start the JVM in the background."""
        self.layout.prepare(clean=self.options.clean)
        self.stack.start_spark()
        return self.layout

    def start_stack(self) -> StackOutputs:
        self.stack.start_spark()
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

        stage = self._begin("upload", f"Uploading {len(files)} files to s3://{outputs.input_bucket}")
        expected = self._upload(outputs, files)
        self._end(stage)
        self._follow(outputs, expected, files)
        stage = self._begin("verify", "Checking every line is in the lake or in the quarantine")
        self._verify(outputs, expected, files)
        self._end(stage)
        self.summary.duplicate_notifications = self.duplicates.sent
        self.summary.timings["total"] = round(time.monotonic() - self._started, 2)
        for name, seconds in self.stack.timings.seconds.items():
            self.summary.timings.setdefault(name, seconds)
        self._write_run_info()
        return self.summary

    def stop(self) -> None:
        self.stack.stop()

    # ----------------------------------------------------------------------------------------- upload

    def _upload(self, outputs: StackOutputs, files: list[DropFile]) -> dict[tuple[str, str], DropFile]:
        s3 = boto3.client("s3", region_name=REGION)
        bucket, prefix = outputs.input_bucket, outputs.input_prefix
        expected = {(bucket, prefix + f.key): f for f in files}

        def put(item: DropFile) -> None:
            s3.upload_file(str(item.path), bucket, prefix + item.key)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(put, files))
        return expected

    # ----------------------------------------------------------------------------------------- follow

    def _scan(self, table: str, attributes: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
        client = boto3.client("dynamodb", region_name=REGION)
        kwargs: dict[str, Any] = {"TableName": table}
        if attributes:
            kwargs["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
            kwargs["ExpressionAttributeNames"] = {f"#a{i}": name for i, name in enumerate(attributes)}
        while True:
            page = client.scan(**kwargs)
            for item in page.get("Items", []):
                yield {k: _attr(v) for k, v in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _snapshot(
        self, outputs: StackOutputs, expected: dict[tuple[str, str], DropFile]
    ) -> tuple[Snapshot, dict[tuple[str, str], str], list[dict[str, Any]]]:
        file_status: dict[tuple[str, str], str] = {}
        manifests: list[dict[str, Any]] = []
        for item in self._scan(outputs.tracking_table, SNAPSHOT_ATTRIBUTES):
            file_key = str(item.get("file_key", ""))
            if file_key.startswith(MANIFEST_KEY_PREFIX):
                manifests.append(item)
            elif "bucket" in item and "key" in item:
                file_status[(str(item["bucket"]), str(item["key"]))] = str(item.get("status"))
        glue_runs = list(self.stack.glue_runner.runs) if self.stack.glue_runner else []
        statuses = [file_status.get(key) for key in expected]
        snapshot = Snapshot(
            files_total=len(expected),
            files_tracked=sum(1 for s in statuses if s is not None),
            files_completed=sum(1 for s in statuses if s == "completed"),
            files_failed=sum(1 for s in statuses if s == "failed"),
            manifests_started=len(manifests),
            manifests_final=sum(1 for m in manifests if m.get("status") in FINAL_MANIFEST_STATES),
            glue_runs_started=len(glue_runs),
            glue_runs_done=sum(1 for r in glue_runs if r.status != "RUNNING"),
            records_total=self.summary.lines,
            records_converted=sum(
                int((r.report or {}).get("records_out", 0)) + int((r.report or {}).get("bad_records", 0))
                for r in glue_runs
            ),
        )
        return snapshot, file_status, manifests

    def _executions_running(self, outputs: StackOutputs) -> int:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        page = sfn.list_executions(stateMachineArn=outputs.state_machine_arn, statusFilter="RUNNING")
        return len(page.get("executions", []))

    def _follow(
        self, outputs: StackOutputs, expected: dict[tuple[str, str], DropFile], files: list[DropFile]
    ) -> None:
        deadline = time.monotonic() + self.options.timeout_seconds
        tracking = self._begin("tracking", "Tracking files (S3 -> SQS -> manifest builder)")
        processing: _Stage | None = None
        snapshot = Snapshot()
        while True:
            looked = time.monotonic()
            snapshot, file_status, manifests = self._snapshot(outputs, expected)
            # A scan costs time in proportion to the table's items (seconds at 10,000 files on the embedded AWS,
            # in this process): look again after twice that, so following a large drop never takes more than a
            # third of the process from the pipeline it follows.
            pause = max(FOLLOW_INTERVAL_SECONDS, 2 * (time.monotonic() - looked))
            self.reporter.progress(snapshot)
            if processing is None and snapshot.files_tracked == snapshot.files_total:
                self._end(tracking)
                processing = self._begin(
                    "processing", "Converting batches (Step Functions -> Glue -> status)"
                )
            all_final = all(file_status.get(key) in FINAL_FILE_STATES for key in expected)
            manifests_final = all(m.get("status") in FINAL_MANIFEST_STATES for m in manifests)
            if all_final and manifests_final and self._executions_running(outputs) == 0:
                break
            if time.monotonic() > deadline:
                self._timeout(snapshot, file_status, manifests, expected)
            time.sleep(pause)
        if processing is not None:
            self._end(processing)
        glue_runs = self.stack.glue_runner.runs if self.stack.glue_runner else []
        self.summary.glue_runs = len(glue_runs)
        self.summary.glue_seconds = round(sum(r.seconds for r in glue_runs), 2)
        self.summary.timings["glue_runs"] = self.summary.glue_seconds

    def _timeout(
        self,
        snapshot: Snapshot,
        file_status: dict[tuple[str, str], str],
        manifests: list[dict[str, Any]],
        expected: dict[tuple[str, str], DropFile],
    ) -> None:
        stuck = [
            f"s3://{b}/{k} ({file_status.get((b, k), 'not tracked')})"
            for b, k in expected
            if file_status.get((b, k)) not in FINAL_FILE_STATES
        ]
        open_manifests = [
            f"{m.get('manifest_id')} ({m.get('status')})"
            for m in manifests
            if m.get("status") not in FINAL_MANIFEST_STATES
        ]
        detail = "; ".join(stuck[:5]) + (f" and {len(stuck) - 5} more" if len(stuck) > 5 else "")
        if open_manifests:
            detail += "; open batches: " + ", ".join(open_manifests[:5])
        raise PipelineError(
            "PipelineTimeout",
            f"{len(stuck)} of {snapshot.files_total} files did not reach a final state within "
            f"{self.options.timeout_seconds:.0f}s: {detail}.",
            f"Look at {self.layout.logs}/lambda.log and glue.log, or raise --timeout.",
        )

    # ----------------------------------------------------------------------------------------- verify

    def _verify(
        self, outputs: StackOutputs, expected: dict[tuple[str, str], DropFile], files: list[DropFile]
    ) -> None:
        _, file_status, manifests = self._snapshot(outputs, expected)
        summary = self.summary
        summary.files_completed = sum(1 for key in expected if file_status.get(key) == "completed")
        summary.files_failed = sum(1 for key in expected if file_status.get(key) == "failed")
        runs_by_manifest = {
            r.manifest_id: r
            for r in (self.stack.glue_runner.runs if self.stack.glue_runner else [])
            if r.status == "SUCCEEDED"
        }
        lake_rows = _lake_rows_by_manifest(self.layout.lake)
        for item in sorted(manifests, key=lambda m: str(m.get("manifest_id"))):
            manifest_id = str(item.get("manifest_id"))
            run = runs_by_manifest.get(manifest_id)
            report = (run.report if run else None) or {}
            result = ManifestResult(
                manifest_id=manifest_id,
                date_prefix=str(item.get("date_prefix")),
                status=str(item.get("status")),
                file_count=int(item.get("file_count") or 0),
                execution_arn=item.get("execution_arn"),
                records_in=_int(item.get("records_in", report.get("records_in"))),
                records_out=_int(item.get("records_out", report.get("records_out"))),
                bad_records=_int(item.get("bad_records", report.get("bad_records"))),
                output_files=_count(item.get("output_files", report.get("output_files"))),
                bytes_out=_int(item.get("bytes_out", report.get("bytes_out"))),
                error=item.get("error"),
                lake_rows=lake_rows.get(manifest_id, 0),
                quarantine_lines=_quarantine_lines(self.layout.quarantine, manifest_id),
            )
            summary.manifests.append(result)
            if report.get("codec"):
                summary.codec = str(report["codec"])
        completed = [m for m in summary.manifests if m.status == "completed"]
        summary.records_out = sum(m.lake_rows or 0 for m in completed)
        summary.quarantined = sum(m.quarantine_lines or 0 for m in summary.manifests)
        summary.output_files = sum(m.output_files or 0 for m in completed)
        summary.output_bytes = sum(m.bytes_out or 0 for m in completed)
        summary.dlq_messages = self._dlq_depth(outputs)

        problems = summary.problems
        if summary.files_completed != len(expected):
            not_done = [
                f"s3://{b}/{k} ({file_status.get((b, k), 'not tracked')})"
                for b, k in expected
                if file_status.get((b, k)) != "completed"
            ]
            problems.append(f"{len(not_done)} files did not reach completed: " + ", ".join(not_done[:5]))
        for manifest in summary.manifests:
            if manifest.status != "completed":
                problems.append(f"batch {manifest.manifest_id} ended {manifest.status}: {manifest.error}")
                continue
            if not manifest.execution_arn:
                problems.append(f"batch {manifest.manifest_id} has no execution ARN in the tracking table")
            if manifest.records_out is not None and manifest.lake_rows != manifest.records_out:
                problems.append(
                    f"batch {manifest.manifest_id}: the job reported {manifest.records_out} records "
                    f"but the lake holds {manifest.lake_rows}"
                )
            if manifest.bad_records is not None and manifest.quarantine_lines != manifest.bad_records:
                problems.append(
                    f"batch {manifest.manifest_id}: the job reported {manifest.bad_records} bad "
                    f"records but the quarantine holds {manifest.quarantine_lines}"
                )
        accounted = summary.records_out + summary.quarantined
        if accounted != summary.lines:
            problems.append(
                f"{summary.lines} input lines but {summary.records_out} in the lake + "
                f"{summary.quarantined} in quarantine = {accounted}"
            )
        if summary.expected_bad_lines is not None and summary.quarantined != summary.expected_bad_lines:
            problems.append(
                f"{summary.expected_bad_lines} corrupt lines were generated but the quarantine "
                f"holds {summary.quarantined}"
            )
        if summary.dlq_messages:
            problems.append(f"{summary.dlq_messages} messages ended in the ingest dead-letter queue")

    def _dlq_depth(self, outputs: StackOutputs) -> int:
        url = outputs.dlq_url
        if not url:
            return 0
        sqs = boto3.client("sqs", region_name=REGION)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))

    def _write_run_info(self) -> None:
        info = {
            "table_name": self.summary.table_name,
            "lake": str(self.layout.lake),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "summary": self.summary.as_dict(),
        }
        (self.layout.root / RUN_INFO_FILE).write_text(
            json.dumps(info, indent=2, default=str), encoding="utf-8"
        )
        (self.layout.logs / "summary.json").write_text(
            json.dumps(self.summary.as_dict(), indent=2, default=str), encoding="utf-8"
        )


# --------------------------------------------------------------------------------------------- helpers


def _attr(value: dict[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        number = value["N"]
        return int(number) if number.lstrip("-").isdigit() else float(number)
    if "BOOL" in value:
        return value["BOOL"]
    if "NULL" in value:
        return None
    if "M" in value:
        return {k: _attr(v) for k, v in value["M"].items()}
    if "L" in value:
        return [_attr(v) for v in value["L"]]
    return value


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _count(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    return _int(value)


def _lake_rows_by_manifest(lake: Path) -> dict[str, int]:
    from pipeline.embedded.query import lake_files

    files = lake_files(lake)
    if not files:
        return {}
    import duckdb

    con = duckdb.connect()
    file_list = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    rows = con.execute(
        f"SELECT _manifest_id, count(*) FROM read_parquet([{file_list}], "  # noqa: S608
        "union_by_name = true) GROUP BY 1"
    ).fetchall()
    con.close()
    return {str(manifest_id): int(count) for manifest_id, count in rows}


def _quarantine_lines(quarantine: Path, manifest_id: str) -> int:
    total = 0
    if not quarantine.is_dir():
        return 0
    for path in quarantine.rglob("*"):
        if not path.is_file() or path.name.startswith((".", "_")):
            continue
        if f"manifest_id={manifest_id}" not in path.as_posix():
            continue
        total += count_lines(path)
    return total
