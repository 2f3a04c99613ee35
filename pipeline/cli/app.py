"""The `pipeline` command: the whole pipeline on one machine, and the lake at your fingertips.

    pipeline demo                 generated drops -> embedded AWS -> Parquet lake, with a summary and a sample query
    pipeline run --input DIR      the same on your own NDJSON files (keys keep their folder layout)
    pipeline query "SQL"          DuckDB over the lake (table `events`, Hive partitions)
    pipeline up                   the embedded AWS with the stack applied, kept running for the AWS CLI / boto3
    pipeline build-lambda         the Lambda zip Terraform deploys
    pipeline build-glue           the Glue job's entry script and package zip Terraform uploads

Every error a user can meet ends with one sentence, the fix, a stable error name and a non-zero exit status
(2: nothing was started, 1: the run failed or did not account for every line, 130: interrupted).
"""

from __future__ import annotations

import concurrent.futures
import errno
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table

from pipeline.embedded.errors import PipelineError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Serverless NDJSON-to-Parquet pipeline: run it end to end on this machine, query the lake.",
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
T = TypeVar("T")

DEFAULT_WORKDIR = Path("work")
STAGE_LABELS = {
    "aws_start": "embedded AWS start",
    "lambda_zip": "Lambda zip build",
    "terraform_apply": "Terraform apply",
    "spark_start": "Spark (JVM) start, in parallel",
    "generate": "inputs (generate/count), in parallel",
    "runtime": "runtime wiring",
    "upload": "upload to S3",
    "tracking": "tracking (S3 -> SQS -> Lambda)",
    "processing": "batches (Step Functions + Glue)",
    "glue_runs": "  of which Glue job runs",
    "verify": "verification",
    "total": "total",
}


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# --------------------------------------------------------------------------------------------- plumbing


def _fail(error: PipelineError) -> typer.Exit:
    err_console.print(f"[bold red]error[{error.error_name}][/]: {error.message}", markup=True)
    if error.fix:
        err_console.print(f"[bold]fix[/]: {error.fix}", markup=True)
    return typer.Exit(error.exit_code)


def _guarded(body: Callable[[], T], log_file: Path | None = None) -> T:
    """Run a command body, turning every failure into one clear sentence and an exit status."""
    try:
        return body()
    except PipelineError as error:
        raise _fail(error) from None
    except KeyboardInterrupt:
        err_console.print("interrupted: the embedded AWS was stopped.")
        raise typer.Exit(130) from None
    except OSError as exc:
        logging.getLogger("pipeline").exception("command failed")
        if exc.errno == errno.ENOSPC:
            from pipeline.embedded.preflight import disk_full_error

            raise _fail(disk_full_error(Path(exc.filename or "."))) from None
        raise _fail(PipelineError("OSError", f"{exc}.", _see_log(log_file))) from None
    except Exception as exc:
        logging.getLogger("pipeline").exception("command failed")
        name = getattr(exc, "error_name", None) or type(exc).__name__
        raise _fail(PipelineError(str(name), f"{exc}".rstrip(".") + ".", _see_log(log_file))) from None


def _see_log(log_file: Path | None) -> str:
    return f"The details are in {log_file}." if log_file else "Run again with --verbose for details."


def _setup_logging(log_dir: Path | None, verbose: bool) -> Path | None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "py4j", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_file = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / "pipeline.log"
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s %(message)s")
        )
        root.addHandler(handler)
    if verbose:
        from rich.logging import RichHandler

        root.addHandler(RichHandler(console=err_console, show_path=False))
    return log_file


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _mb(value: int) -> str:
    return f"{value / 1_000_000:.1f} MB"


class RichReporter:
    """Stages as spinner lines, then four progress bars while the files travel through the pipeline."""

    def __init__(self, out: Console) -> None:
        self.console = out
        self._status: Status | None = None
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def stage_started(self, name: str, description: str) -> None:
        with self._lock:
            if self._progress is None and name not in ("tracking", "processing"):
                self._status = self.console.status(description + " ...")
                self._status.start()

    def stage_finished(self, name: str, seconds: float) -> None:
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None
            if name in ("tracking", "processing"):
                return
            if name == "verify" and self._progress is not None:
                self._progress.stop()
            self.console.print(f"[green]✓[/] {STAGE_LABELS.get(name, name):<34} {_seconds(seconds):>8}")

    def note(self, message: str) -> None:
        self.console.print(message)

    def progress(self, snapshot: Any) -> None:
        with self._lock:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("{task.description:<22}"),
                    BarColumn(bar_width=36),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=self.console,
                    transient=False,
                    refresh_per_second=8,
                )
                for key, label in (
                    ("files", "files tracked"),
                    ("batches", "batches started"),
                    ("glue", "Glue runs"),
                    ("records", "records converted"),
                ):
                    self._tasks[key] = self._progress.add_task(label, total=None)
                self._progress.start()
            p, t = self._progress, self._tasks
            p.update(t["files"], completed=snapshot.files_tracked, total=snapshot.files_total)
            p.update(
                t["batches"],
                completed=snapshot.manifests_started,
                total=max(snapshot.manifests_started, 1)
                if snapshot.files_tracked == snapshot.files_total
                else None,
            )
            p.update(t["glue"], completed=snapshot.glue_runs_done, total=max(snapshot.manifests_started, 1))
            p.update(t["records"], completed=snapshot.records_converted, total=max(snapshot.records_total, 1))

    def close(self) -> None:
        with self._lock:
            if self._status is not None:
                self._status.stop()
            if self._progress is not None:
                self._progress.stop()


def _print_summary(summary: Any) -> None:
    table = Table(title="Summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row(
        "files",
        f"{summary.files} ({_mb(summary.input_bytes)}): {summary.files_completed} completed, "
        f"{summary.files_failed} failed",
    )
    if summary.duplicate_notifications:
        table.add_row("duplicate notifications", f"{summary.duplicate_notifications} (tracked once, ignored)")
    completed = sum(1 for m in summary.manifests if m.status == "completed")
    table.add_row("batches (manifests)", f"{len(summary.manifests)}: {completed} completed")
    table.add_row("records in", f"{summary.lines:,} non-blank lines")
    table.add_row("records out", f"{summary.records_out:,} rows in the lake")
    table.add_row("quarantined", f"{summary.quarantined:,} bad lines")
    table.add_row(
        "output",
        f"{summary.output_files} Parquet files, {_mb(summary.output_bytes)}, "
        f"codec {summary.codec or summary.compression_argument or '?'}",
    )
    if summary.dlq_messages:
        table.add_row("dead-letter queue", f"{summary.dlq_messages} messages")
    for name in [*STAGE_LABELS, *(k for k in summary.timings if k not in STAGE_LABELS)]:
        if name in summary.timings:
            table.add_row(f"seconds: {STAGE_LABELS.get(name, name)}", _seconds(summary.timings[name]))
    console.print(table)
    batches = Table(title="Batches", title_justify="left")
    for column in ("manifest", "date", "files", "records out", "bad", "files out", "status"):
        batches.add_column(
            column, justify="right" if column in ("files", "records out", "bad", "files out") else "left"
        )
    for m in summary.manifests:
        batches.add_row(
            m.manifest_id,
            m.date_prefix,
            str(m.file_count),
            f"{m.lake_rows or 0:,}",
            str(m.quarantine_lines or 0),
            str(m.output_files or 0),
            m.status,
        )
    console.print(batches)


def _print_query(sql: str, lake: Path, table: str) -> None:
    from pipeline.embedded.query import run_query

    result = run_query(sql, lake, table)
    console.print(f'[bold]Sample query[/] (try it yourself: pipeline query "..." --lake {lake})')
    console.print(f"  {sql}")
    console.print(_result_table(result))


def _result_table(result: Any) -> Table:
    table = Table()
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*["NULL" if value is None else str(value) for value in row])
    return table


def _wait_for_ctrl_c() -> None:
    """Until Ctrl-C (SIGINT) or SIGTERM. SIGINT is handled explicitly: a process started in the background by a
    non-interactive shell (`pipeline up &` in a script, a CI step) inherits SIGINT *ignored*, and Python then
    leaves it ignored, so `kill -INT` would not stop it."""
    stop = threading.Event()
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _print_endpoint(endpoint: str, outputs_file: Path, outputs: Any) -> None:
    console.print()
    console.print(f"[bold]Embedded AWS[/] listening on {endpoint}. Point the AWS CLI or boto3 at it:")
    console.print(f"  export AWS_ENDPOINT_URL={endpoint}")
    console.print(
        "  export AWS_ACCESS_KEY_ID=embedded AWS_SECRET_ACCESS_KEY=embedded AWS_DEFAULT_REGION=us-east-1"
    )
    console.print(f"  export PIPELINE_STACK_OUTPUTS={outputs_file}")
    if outputs is not None:
        console.print(
            f"Drop files with: aws s3 cp FILE.ndjson s3://{outputs.input_bucket}/{outputs.input_prefix}"
            "<date>/FILE.ndjson"
        )
    console.print("Press Ctrl-C to stop.")


def _preflight(workdir: Path, input_bytes: int, port: int | None) -> None:
    from pipeline.embedded import preflight

    preflight.check_java()
    preflight.check_terraform()
    preflight.check_workdir(workdir)
    preflight.check_disk(workdir, input_bytes)
    if port is not None:
        preflight.check_port(port)


# --------------------------------------------------------------------------------------------- commands

WorkdirOpt = Annotated[
    Path,
    typer.Option(
        "--workdir", "-w", help="Work folder: lake, quarantine, logs, Terraform state. Kept between runs."
    ),
]
PortOpt = Annotated[
    int | None, typer.Option("--port", help="Port of the embedded AWS (default: a free one).")
]
CleanOpt = Annotated[bool, typer.Option("--clean", help="Empty the lake, quarantine and logs first.")]
KeepOpt = Annotated[
    bool, typer.Option("--keep-running", help="Keep the embedded AWS up after the run (Ctrl-C stops it).")
]
CompressionOpt = Annotated[
    str | None,
    typer.Option(
        "--compression",
        help="Parquet codec passed to the Glue job "
        "as --COMPRESSION_TYPE (Terraform variable compression_type).",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for every file to be converted.")
]
BatchOpt = Annotated[int, typer.Option("--max-files-per-manifest", help="Files per batch (manifest).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show the log on the terminal too.")]
JsonOpt = Annotated[Path | None, typer.Option("--summary-json", help="Also write the summary to this file.")]


def _run_pipeline(
    options: Any,
    files_source: Callable[[Path], list[Any]],
    verbose: bool,
    summary_json: Path | None,
    sample_sql: str | None,
    input_bytes: int,
) -> None:
    from pipeline.embedded.pipeline_run import PipelineRun
    from pipeline.embedded.preflight import check_compression

    workdir = options.workdir.resolve()
    _guarded(lambda: check_compression(options.compression))
    _guarded(lambda: _preflight(workdir, input_bytes, options.port))
    reporter = RichReporter(console)
    run = PipelineRun(options, reporter)
    _guarded(run.prepare)
    log_file = _setup_logging(run.layout.logs, verbose)

    def timed_source(folder: Path) -> list[Any]:
        started = time.monotonic()
        files = files_source(folder)
        run.summary.timings["generate"] = round(time.monotonic() - started, 2)
        return files

    def body() -> int:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="inputs") as pool:
            files_future = pool.submit(timed_source, run.layout.input)
            run.start_stack()
            files = files_future.result()
        summary = run.execute(files)
        reporter.close()
        _print_summary(summary)
        if summary_json is not None:
            summary_json.write_text(json.dumps(summary.as_dict(), indent=2, default=str), encoding="utf-8")
        if sample_sql and summary.records_out:
            _print_query(_format_sql(sample_sql, summary.table_name), run.layout.lake, summary.table_name)
        if summary.ok:
            console.print(
                f"[bold green]OK[/]: every input line is in the lake or in the quarantine, and every "
                f"file reached completed. Lake: {run.layout.lake}"
            )
        else:
            err_console.print("[bold red]error[RunIncomplete][/]: " + "; ".join(summary.problems) + ".")
            err_console.print(
                f"[bold]fix[/]: look at {run.layout.logs} (lambda.log, glue.log, pipeline.log)."
            )
        if options.keep_running:
            _print_endpoint(
                run.stack.aws.endpoint_url if run.stack.aws else "?",
                run.stack.outputs_file,
                run.stack.outputs,
            )
            _wait_for_ctrl_c()
        return 0 if summary.ok else 1

    try:
        code = _guarded(body, log_file)
    finally:
        reporter.close()
        run.stop()
    raise typer.Exit(code)


@app.command()
def demo(
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    files: Annotated[int, typer.Option("--files", help="Number of files to generate (two dates).")] = 20,
    size_mb: Annotated[
        float, typer.Option("--size-mb", help="Approximate NDJSON megabytes in total.")
    ] = 50.0,
    keep_running: KeepOpt = False,
    clean: CleanOpt = False,
    port: PortOpt = None,
    compression: CompressionOpt = None,
    max_files_per_manifest: BatchOpt = 10,
    timeout: TimeoutOpt = 900.0,
    summary_json: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Generate realistic drops (two dates, a few corrupt lines, one schema change, one duplicate notification)
    and run them through the whole pipeline on an embedded AWS. Exit 0 only if every line is accounted for."""
    from pipeline.embedded.pipeline_run import DemoSpec, RunOptions, generate_demo_drop

    if files < 2:
        raise _fail(
            PipelineError(
                "InvalidOption",
                f"--files must be at least 2 (one per date), got {files}.",
                "Pass --files 2 or more.",
                exit_code=2,
            )
        )
    spec = DemoSpec(files=files, total_mb=size_mb)
    options = RunOptions(
        workdir=workdir,
        port=port,
        clean=clean,
        compression=compression,
        max_files_per_manifest=max_files_per_manifest,
        timeout_seconds=timeout,
        duplicate_notification=True,
        keep_running=keep_running,
    )

    def generate(folder: Path) -> list[Any]:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        return generate_demo_drop(folder, spec)

    sample = (
        'SELECT dt, count(*) AS events, count(DISTINCT "user".id) AS users, '
        "round(sum(properties.amount), 2) AS revenue, count(experiment) AS with_experiment "
        "FROM {table} GROUP BY dt ORDER BY dt"
    )
    _run_pipeline(options, generate, verbose, summary_json, sample, input_bytes=int(size_mb * 1_000_000))


def _format_sql(sql: str, table: str) -> str:
    return sql.replace("{table}", table)


@app.command("run")
def run_command(
    input_dir: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Folder of .ndjson/.jsonl/.json[.gz] files; their paths below it become the S3 keys.",
        ),
    ],
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    keep_running: KeepOpt = False,
    clean: CleanOpt = False,
    port: PortOpt = None,
    compression: CompressionOpt = None,
    max_files_per_manifest: BatchOpt = 10,
    timeout: TimeoutOpt = 1800.0,
    summary_json: JsonOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run your own NDJSON files through the whole pipeline on an embedded AWS."""
    from pipeline.embedded.pipeline_run import RunOptions, drop_files_from
    from pipeline.embedded.preflight import scan_input

    def scan() -> list[Any]:
        return scan_input(input_dir)

    inputs = _guarded(scan)
    options = RunOptions(
        workdir=workdir,
        port=port,
        clean=clean,
        compression=compression,
        max_files_per_manifest=max_files_per_manifest,
        timeout_seconds=timeout,
        duplicate_notification=False,
        keep_running=keep_running,
    )
    sample = "SELECT dt, count(*) AS records FROM {table} GROUP BY dt ORDER BY dt"
    _run_pipeline(
        options,
        lambda _folder: drop_files_from(inputs),
        verbose,
        summary_json,
        sample,
        input_bytes=sum(f.size for f in inputs),
    )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL for DuckDB; the lake is the table `events` (see --table).")],
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Lake folder (default: <workdir>/lake).")
    ] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    table: Annotated[
        str | None,
        typer.Option("--table", help="Name of the table in SQL (default: the configured one, `events`)."),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")
    ] = OutputFormat.table,
) -> None:
    """Query the lake with DuckDB (Hive partitions: `dt` is a column)."""
    from pipeline.embedded.query import default_table_name, run_query, to_csv, to_json

    lake_dir = lake or workdir / "lake"
    name = table or default_table_name(workdir if lake is None else lake_dir.parent)
    result = _guarded(lambda: run_query(_format_sql(sql, name), lake_dir, name))
    if output_format is OutputFormat.csv:
        typer.echo(to_csv(result), nl=False)
    elif output_format is OutputFormat.json:
        typer.echo(to_json(result))
    else:
        console.print(_result_table(result))


@app.command()
def up(
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    port: PortOpt = None,
    flush_interval: Annotated[
        float, typer.Option("--flush-interval", help="Seconds between scheduled flushes.")
    ] = 10.0,
    verbose: VerboseOpt = False,
) -> None:
    """Start the embedded AWS with the stack applied and keep it running (the pipeline is live: put files into
    the input bucket and they are converted). Prints the endpoint and the environment to use it; Ctrl-C stops."""
    from pipeline.embedded.pipeline_run import PipelineRun, RunOptions

    _guarded(lambda: _preflight(workdir.resolve(), 0, port))
    options = RunOptions(
        workdir=workdir,
        port=port,
        flush_interval_seconds=flush_interval,
        max_batch_wait_seconds=int(flush_interval),
        duplicate_notification=False,
    )
    reporter = RichReporter(console)
    run = PipelineRun(options, reporter)
    _guarded(run.prepare)
    log_file = _setup_logging(run.layout.logs, verbose)

    def body() -> int:
        outputs = run.start_stack()
        reporter.close()
        table = Table(title="Stack outputs", show_header=False, title_justify="left")
        for key, value in sorted(outputs.raw.items()):
            value = value.get("value") if isinstance(value, dict) and "value" in value else value
            table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
        console.print(table)
        assert run.stack.aws is not None
        _print_endpoint(run.stack.aws.endpoint_url, run.stack.outputs_file, outputs)
        _wait_for_ctrl_c()
        console.print("stopping ...")
        return 0

    try:
        code = _guarded(body, log_file)
    finally:
        reporter.close()
        run.stop()
    raise typer.Exit(code)


@app.command("build-lambda")
def build_lambda(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path("dist/lambda.zip"),
) -> None:
    """Build the Lambda deployment zip that Terraform deploys (handlers, `pipeline`, powertools; offline)."""
    from pipeline.build.lambda_zip import build_lambda_zip

    path = _guarded(lambda: build_lambda_zip(out))
    console.print(f"{path} ({path.stat().st_size / 1_000_000:.1f} MB)")


@app.command("build-glue")
def build_glue(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the two files to.")] = Path(
        "dist/glue"
    ),
) -> None:
    """Build the Glue job's entry script and package zip that Terraform uploads (offline, reproducible)."""
    from pipeline.build.glue_artifacts import build_glue_artifacts

    artifacts = _guarded(lambda: build_glue_artifacts(out))
    for path in (artifacts.script, artifacts.package):
        console.print(f"{path} ({path.stat().st_size / 1_000:.1f} kB)")


def _register_operator_commands() -> None:
    """status, retry, redrive, reconcile, backfill, replay (pipeline/cli/ops.py)."""
    from pipeline.cli.ops import register

    register(app)


_register_operator_commands()


def main() -> None:  # pragma: no cover - console script entry
    app()
