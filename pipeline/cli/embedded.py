"""The embedded commands: the whole pipeline on this machine (`demo`, `run`, `up`) and the lake (`query`).

`register(app)` adds them to the `pipeline` app. Every error a user can meet ends with one sentence, the fix, a
stable error name and a non-zero exit status (2: nothing was started, 1: the run failed or did not account for
every line, 130: interrupted); pipeline/cli/output.py prints it.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from pipeline.cli.options import PortOpt, RunChoices, VerboseOpt, WorkdirOpt, run_choices
from pipeline.cli.output import console, err_console, fail, guarded
from pipeline.cli.views import (
    RichReporter,
    print_endpoint,
    print_skipped_inputs,
    print_summary,
    result_table,
)
from pipeline.contracts.errors import PipelineError
from pipeline.embedded.layout import WorkLayout

DEFAULT_WORKDIR = Path("work")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# --------------------------------------------------------------------------------------------- plumbing


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


def _as_typed(path: Path) -> str:
    """A path as a user would type it here: relative to the current folder when inside it, else absolute."""
    # Not resolve(): a venv's python is a symlink, and the venv is lost when it is resolved.
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _pipeline_program() -> str:
    """This command as it was started: `pipeline` when that is the one on PATH, else its path (`.venv/bin/pipeline`),
    or `<python> -m pipeline`."""
    started = Path(sys.argv[0])
    if started.name == "pipeline":
        on_path = shutil.which("pipeline")
        if on_path and Path(on_path).resolve() == started.resolve():
            return "pipeline"
        return shlex.quote(_as_typed(started))
    return f"{shlex.quote(_as_typed(Path(sys.executable)))} -m pipeline"


def query_command(sql: str, lake: Path) -> str:
    """The `pipeline query` command line that runs `sql` on `lake`, quoted for a POSIX shell: copy, paste, run."""
    return f"{_pipeline_program()} query {shlex.quote(sql)} --lake {shlex.quote(_as_typed(lake))}"


def _print_query(sql: str, lake: Path, table: str) -> None:
    from pipeline.embedded.query import run_query

    result = run_query(sql, lake, table)
    console.print("[bold]Sample query[/] (the command runs it again):")
    # One line, never wrapped nor read as markup: it must paste into a shell as it is.
    console.print(f"  {query_command(sql, lake)}", markup=False, soft_wrap=True)
    console.print(result_table(result))


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


def _preflight(workdir: Path, input_bytes: int, port: int | None) -> None:
    from pipeline.embedded import preflight

    preflight.check_java()
    preflight.check_terraform()
    preflight.check_workdir(workdir)
    preflight.check_disk(workdir, input_bytes)
    if port is not None:
        preflight.check_port(port)


def _prepare(options: Any, verbose: bool) -> tuple[Any, RichReporter, Path | None]:
    """The run (its work folder prepared), its reporter, and the log file now logging."""
    from pipeline.embedded.run import PipelineRun

    reporter = RichReporter(console)
    run = PipelineRun(options, reporter)
    guarded(run.prepare)
    return run, reporter, _setup_logging(run.layout.logs, verbose)


def _interruptible() -> None:
    """Make Ctrl-C (SIGINT) interrupt this command even when it was started with SIGINT ignored: a process started in
    the background by a non-interactive shell (`pipeline run ... &` in a script, a CI step, a test harness) inherits
    it ignored, and Python then leaves it ignored, so `kill -INT` would let the run go on to its end."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _stop_uninterrupted(run: Any) -> None:
    """A last look at the files, then `run.stop()`, with Ctrl-C ignored meanwhile: a second Ctrl-C (an impatient
    user's) must not break the shutdown into a traceback."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run.look_again()
        run.stop()
    finally:
        signal.signal(signal.SIGINT, previous)


def _finish(run: Any, reporter: RichReporter, body: Callable[[], int], log_file: Path | None) -> NoReturn:
    """Run the command's body, stop the run whatever happens, exit with the body's status."""

    def body_then_close() -> int:
        try:
            return body()
        except KeyboardInterrupt:
            # Ctrl-C: stop the progress display once, look at the files a last time, stop everything, then say
            # what was done in one line.
            reporter.close()
            _stop_uninterrupted(run)
            raise KeyboardInterrupt(run.interrupted()) from None
        finally:
            # A live spinner swallows what is printed while it runs: stop it before a failure is reported.
            reporter.close()

    try:
        code = guarded(body_then_close, log_file)
    finally:
        reporter.close()
        run.stop()
    raise typer.Exit(code)


# --------------------------------------------------------------------------------------------- commands


def _run_pipeline(
    options: Any,
    choices: RunChoices,
    files_source: Callable[[Path], list[Any]],
    sample_sql: str | None,
    input_bytes: int,
) -> None:
    _interruptible()
    workdir = options.workdir.resolve()
    guarded(lambda: _preflight(workdir, input_bytes, options.port))
    run, reporter, log_file = _prepare(options, choices.verbose)
    summary_json = choices.summary_json

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
        print_summary(summary)
        if summary_json is not None:
            summary_json.write_text(json.dumps(summary.as_dict(), indent=2, default=str), encoding="utf-8")
        if sample_sql and summary.records_out:
            _print_query(_format_sql(sample_sql, summary.table_name), run.layout.lake, summary.table_name)
        if summary.ok:
            console.print(
                f"[bold green]OK[/]: every input line of this run is in the lake or in the quarantine, and "
                f"every file reached completed. Lake: {run.layout.lake}"
            )
        else:
            problems = "; ".join(summary.problems) + "."
            fix = _failed_run_fix(run, summary, options.keep_running)
            fail(PipelineError.named("RunIncomplete", problems, fix))  # printed; the exit status is below
        if options.keep_running:
            print_endpoint(
                run.stack.aws.endpoint_url if run.stack.aws else "?",
                run.stack.outputs_file,
                run.stack.outputs,
            )
            _wait_for_ctrl_c()
        return 0 if summary.ok else 1

    _finish(run, reporter, body, log_file)


def _failed_run_fix(run: Any, summary: Any, keep_running: bool) -> str:
    """What to do about an incomplete run: the command that shows each failed batch's bad lines, the command that
    retries it, and the log that holds the job's output and error."""
    logs = run.layout.logs
    failed = [m for m in summary.manifests if m.status == "failed"]
    if not failed:
        return f"look at {logs} (lambda.log, glue.log, pipeline.log)."
    endpoint = run.stack.aws.endpoint_url if run.stack.aws else "<endpoint>"
    commands = "; ".join(
        f"`pipeline retry {m.manifest_id} --outputs {run.stack.outputs_file} --endpoint-url {endpoint} --wait`"
        for m in failed[:3]
    )
    bad_lines = "; ".join(
        f"`{quarantine_command(m.manifest_id, run.layout.root)}`" for m in failed[:3] if m.quarantine_lines
    )
    # A batch with no bad lines (a file it could not read, a crash): its job run's lines in glue.log.
    job_lines = "; ".join(
        f"`grep {m.manifest_id} {shlex.quote(str(logs / 'glue.log'))}`"
        for m in failed[:3]
        if not m.quarantine_lines
    )
    ratio = any((m.job_error or "").startswith("BadRecordRatioExceeded") for m in failed)
    live = "" if keep_running else " (with --keep-running, so that the embedded AWS stays up)"
    return (
        ("raise --max-bad-ratio or fix the files' bad lines, then run again; " if ratio else "")
        + (f"see the bad lines per file and reason: {bad_lines}; " if bad_lines else "")
        + (f"see its job run: {job_lines}; " if job_lines else "")
        + f"retry a failed batch on the live stack{live}: {commands}; the job's output and error are in "
        f"{logs / 'glue.log'} (the tracking and status updates in lambda.log and pipeline.log)."
    )


def quarantine_command(manifest_id: str, workdir: Path) -> str:
    """The `pipeline query` that shows a batch's quarantined lines per input file and reason (a command printed
    for the user to copy; manifest ids are [A-Za-z0-9_-] only)."""
    sql = (
        "SELECT source_file, reason, count(*) AS lines FROM quarantine "  # noqa: S608 - printed, not run
        f"WHERE manifest_id = '{manifest_id}' GROUP BY ALL ORDER BY lines DESC"
    )
    return f'pipeline query "{sql}" --workdir {shlex.quote(str(workdir))}'


@run_choices(timeout=900.0)
def demo(
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    files: Annotated[int, typer.Option("--files", help="Number of files to generate (two dates).")] = 20,
    size_mb: Annotated[
        float, typer.Option("--size-mb", help="Approximate NDJSON megabytes in total.")
    ] = 50.0,
    *,
    choices: RunChoices,
) -> None:
    """Generate realistic drops (two dates, a few corrupt lines, one schema change, one duplicate notification)
    and run them through the whole pipeline on an embedded AWS. Exit 0 only if every line is accounted for."""
    from pipeline.embedded.drop import DemoSpec, generate_demo_drop

    spec = guarded(lambda: DemoSpec(files=files, total_mb=size_mb))
    options = guarded(lambda: choices.run_options(workdir, duplicate_notification=True))

    guarded(lambda: _check_demo_input(WorkLayout(workdir.resolve())))

    def generate(folder: Path) -> list[Any]:
        layout = WorkLayout(workdir.resolve())
        layout.remove_if_ours(
            folder
        )  # the previous demo's files; checked above: never a folder the user made
        layout.make(folder)
        return generate_demo_drop(folder, spec)

    sample = (
        'SELECT dt, count(*) AS events, count(DISTINCT "user".id) AS users, '
        "round(sum(properties.amount), 2) AS revenue, count(experiment) AS with_experiment "
        "FROM {table} GROUP BY dt ORDER BY dt"
    )
    _run_pipeline(options, choices, generate, sample, input_bytes=int(size_mb * 1_000_000))


def _check_demo_input(layout: Any) -> None:
    """The demo writes its files into `<workdir>/input` and replaces them on the next run: never a user's folder."""
    folder = layout.input
    if folder.exists() and not layout.ours(folder):
        raise PipelineError.named(
            "WorkdirFolderNotOurs",
            f"{folder} exists but the demo did not create it (it is not in {layout.record_file}), and the demo "
            "would replace its contents with generated files.",
            f"Use another --workdir, or move {folder} away (delete it yourself if it is an earlier demo's input).",
            exit_code=2,
        )


def _format_sql(sql: str, table: str) -> str:
    return sql.replace("{table}", table)


@run_choices(timeout=1800.0)
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
    append: Annotated[
        bool,
        typer.Option(
            "--append",
            help="Keep the previous run's table and add to it (not supported yet: each run replaces the "
            "previous run's table).",
        ),
    ] = False,
    *,
    choices: RunChoices,
) -> None:
    """Run your own NDJSON files through the whole pipeline on an embedded AWS. The work folder's lake then holds
    this run's table (it replaces the previous run's)."""
    from pipeline.embedded.drop import drop_files_from
    from pipeline.embedded.preflight import scan_inputs

    if append:
        raise fail(
            PipelineError.named(
                "AppendNotSupported",
                "--append is not supported yet: each run starts a fresh embedded AWS whose Iceberg table is new, "
                "so a run replaces the previous run's table.",
                "Put all the files into one --input folder and run once, or use another --workdir to keep the "
                "previous table.",
                exit_code=2,
            )
        )
    guarded(lambda: WorkLayout(workdir.resolve()).check_input_spared(input_dir, choices.clean))

    options = guarded(lambda: choices.run_options(workdir, duplicate_notification=False))
    scanned = guarded(lambda: scan_inputs(input_dir))
    print_skipped_inputs(scanned.skipped, scanned.folder)
    inputs = scanned.files
    sample = "SELECT dt, count(*) AS records FROM {table} GROUP BY dt ORDER BY dt"
    _run_pipeline(
        options,
        choices,
        lambda _folder: drop_files_from(inputs),
        sample,
        input_bytes=sum(f.size for f in inputs),
    )


CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        metavar="DATABASE.TABLE",
        help="Read the Iceberg table through the Glue Data Catalog (endpoint and credentials from the "
        "environment, e.g. the embedded AWS of `pipeline up`) instead of the work folder's mirror.",
    ),
]


def _catalog(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    database, _, table = value.partition(".")
    if not database or not table:
        raise PipelineError.named(
            "InvalidCatalogTable",
            f"--catalog {value!r} is not DATABASE.TABLE.",
            "Give the Glue database and table, e.g. --catalog pipeline_lake.events.",
            exit_code=2,
        )
    return database, table


def _print_result(result: Any, output_format: OutputFormat) -> None:
    from pipeline.embedded.query import to_csv, to_json

    if output_format is OutputFormat.csv:
        typer.echo(to_csv(result), nl=False)
    elif output_format is OutputFormat.json:
        typer.echo(to_json(result))
    else:
        console.print(result_table(result))


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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="SNAPSHOT|TIMESTAMP",
            help="Iceberg time travel: a snapshot id (see `pipeline snapshots`) or an ISO 8601 time (the "
            "snapshot current then; UTC unless it names a zone).",
        ),
    ] = None,
    catalog: CatalogOpt = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")
    ] = OutputFormat.table,
) -> None:
    """Query the lake with DuckDB: an Iceberg table's committed snapshot (or --as-of an earlier one), or the
    plain-Parquet lake (Hive partitions: `dt` is a column)."""
    from pipeline.embedded.query import default_table_name, run_query

    lake_dir = lake or workdir / "lake"
    name = table or default_table_name(workdir if lake is None else lake_dir.parent)
    result = guarded(
        lambda: run_query(_format_sql(sql, name), lake_dir, name, as_of=as_of, catalog=_catalog(catalog))
    )
    _print_result(result, output_format)


def snapshots(
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Lake folder (default: <workdir>/lake).")
    ] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    catalog: CatalogOpt = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")
    ] = OutputFormat.table,
) -> None:
    """List the Iceberg table's snapshots (id, time, operation, manifest id, rows and files added): the ids and
    times `pipeline query --as-of` accepts."""
    from pipeline.embedded.query import snapshot_listing

    lake_dir = lake or workdir / "lake"
    _print_result(guarded(lambda: snapshot_listing(lake_dir, _catalog(catalog))), output_format)


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
    from pipeline.embedded.run import RunOptions

    _interruptible()
    guarded(lambda: _preflight(workdir.resolve(), 0, port))
    options = RunOptions(
        workdir=workdir,
        port=port,
        flush_interval_seconds=flush_interval,
        max_batch_wait_seconds=int(flush_interval),
        duplicate_notification=False,
    )
    run, reporter, log_file = _prepare(options, verbose)

    def body() -> int:
        outputs = run.start_stack()
        reporter.close()
        table = Table(title="Stack outputs", show_header=False, title_justify="left")
        for key, value in sorted(outputs.raw.items()):
            value = value.get("value") if isinstance(value, dict) and "value" in value else value
            table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
        console.print(table)
        assert run.stack.aws is not None
        print_endpoint(run.stack.aws.endpoint_url, run.stack.outputs_file, outputs)
        _wait_for_ctrl_c()
        console.print("stopping ...")
        return 0

    _finish(run, reporter, body, log_file)


def register(app: typer.Typer) -> None:
    """Add the embedded commands to the `pipeline` app (in the order its help lists them)."""
    app.command("demo")(demo)
    app.command("run")(run_command)
    app.command("query")(query)
    app.command("snapshots")(snapshots)
    app.command("up")(up)
