"""Operator commands of the `pipeline` CLI: status, retry, redrive, reconcile, backfill, replay.

`register(app)` adds them to the main typer app (pipeline/cli/app.py). Every command works against real AWS through
boto3's credential chain, or the embedded AWS with `--endpoint-url` / `AWS_ENDPOINT_URL`; the stack's names come
from `--outputs FILE` / `$PIPELINE_STACK_OUTPUTS` (`terraform output -json`) or per-name flags. Exit status: 0 when
the command did what it was asked, 1 when it failed or found its target in a failed state (the error's stable name
and one sentence go to stderr), 2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pipeline.ops.aws import AwsSession
from pipeline.ops.context import OpsContext
from pipeline.ops.stack import OUTPUTS_ENV, resolve

T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)  # one line per fact: greppable, copy-pastable
err = Console(stderr=True, highlight=False, soft_wrap=True)

# ------------------------------------------------------------------------------------------ shared options

OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        envvar=OUTPUTS_ENV,
        help="Terraform outputs JSON (`terraform output -json`).",
        show_default=False,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        help="AWS endpoint (the embedded AWS); default: real AWS.",
        show_default=False,
    ),
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: the outputs', then boto3's).")
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile of the credential chain.")]
TableOpt = Annotated[str | None, typer.Option("--table", help="Tracking table name.")]
FunctionOpt = Annotated[
    str | None,
    typer.Option("--function-name", help="Manifest builder Lambda (its environment configures us)."),
]
StateMachineOpt = Annotated[str | None, typer.Option("--state-machine-arn", help="State machine ARN.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
DatesOpt = Annotated[
    list[str] | None,
    typer.Option("--date", help="A date (YYYY-MM-DD); repeat for several.", show_default=False),
]
DaysOpt = Annotated[int, typer.Option("--days", min=1, max=366, help="Without --date: the last N UTC days.")]


def _context(
    outputs: Path | None, endpoint_url: str | None, region: str | None, profile: str | None, **names: Any
) -> OpsContext:
    stack = resolve(outputs, region=region, **names)
    session = AwsSession.create(endpoint_url=endpoint_url, region=stack.region or region, profile=profile)
    return OpsContext(aws=session, stack=stack)


def _describe_client_error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "an AWS call")
    code = error.get("Code") or "Unknown"
    message = str(error.get("Message") or "").strip().splitlines()[0:1]
    return "AwsCallFailed", f"{operation} failed with {code}" + (f": {message[0]}" if message else "") + "."


def _guard(body: Callable[[], T]) -> T:
    """Run a command body; turn every error into `error[Name]: sentence` on stderr and exit status 1."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        return body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted: every step is recorded, so running the command again continues safely.")
        raise typer.Exit(130) from None
    except NoCredentialsError:
        name, message = (
            "NoCredentials",
            (
                "No AWS credentials were found: configure the credential chain (AWS_PROFILE, SSO, environment) or "
                "point --endpoint-url at the embedded AWS."
            ),
        )
    except NoRegionError:
        name, message = "NoRegion", "No AWS region is configured: pass --region or set AWS_REGION."
    except EndpointConnectionError as exc:
        name, message = (
            "EndpointUnreachable",
            f"Cannot reach the AWS endpoint ({exc.kwargs.get('endpoint_url')}).",
        )
    except ClientError as exc:
        name, message = _describe_client_error(exc)
    except BotoCoreError as exc:
        name, message = "AwsCallFailed", f"{type(exc).__name__}: {exc}."
    except Exception as exc:
        error_name = getattr(exc, "error_name", None)
        if error_name is None:
            raise
        name, message = str(error_name), str(getattr(exc, "message", None) or exc)
    err.print(f"[bold red]error[{name}][/]: {message}", markup=True)
    raise typer.Exit(1)


@contextmanager
def _progress(enabled: bool = True) -> Iterator[Progress | None]:
    if not enabled or not err.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        yield progress


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


# ------------------------------------------------------------------------------------------ status


def status_command(
    date: DatesOpt = None,
    days: DaysOpt = 3,
    as_json: JsonOpt = False,
    executions: Annotated[
        int, typer.Option("--executions", min=0, max=100, help="How many recent failed executions to show.")
    ] = 10,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Exit 1 when health reaches warning|critical.", show_default=False),
    ] = None,
    grace_seconds: Annotated[
        int | None, typer.Option("--grace-seconds", min=1, help="Manifested longer than this is stuck.")
    ] = None,
    max_batch_wait: Annotated[
        int | None, typer.Option("--max-batch-wait", min=0, help="The builder's MAX_BATCH_WAIT_SECONDS.")
    ] = None,
    dlq_url: Annotated[str | None, typer.Option("--dlq-url", help="Dead-letter queue URL.")] = None,
    queue_url: Annotated[str | None, typer.Option("--queue-url", help="Ingest queue URL.")] = None,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    table: TableOpt = None,
    state_machine_arn: StateMachineOpt = None,
    function_name: FunctionOpt = None,
) -> None:
    """Files by status per date, manifests with their age, the oldest pending file, stuck files, DLQ depth,
    recent failed executions, and health indicators (docs/runbook.md)."""
    from pipeline.ops.status import LEVELS, Thresholds, collect

    if fail_on not in (None, "warning", "critical"):
        raise typer.BadParameter("--fail-on takes warning or critical")

    def body() -> int:
        ctx = _context(
            outputs,
            endpoint_url,
            region,
            profile,
            tracking_table=table,
            state_machine_arn=state_machine_arn,
            function_name=function_name,
            dlq_url=dlq_url,
            ingest_queue_url=queue_url,
        )
        limits = Thresholds(grace_seconds=grace_seconds or ctx.stack.repair_grace_seconds)
        if ctx.stack.function_name:
            config = ctx.config()
            limits.grace_seconds = grace_seconds or config.repair_grace_seconds
            limits.max_batch_wait_seconds = config.max_batch_wait_seconds
            shards = config.pending_shards
        else:
            shards = ctx.stack.pending_shards
        if max_batch_wait is not None:
            limits.max_batch_wait_seconds = max_batch_wait

        reading = err.status("reading the tracking table, queues and executions") if err.is_terminal else None
        if reading is not None:
            reading.start()
        try:
            report = collect(
                ctx.ddb,
                ctx.table_name,
                dates=date,
                days=days,
                pending_shards=shards,
                sqs=ctx.client("sqs") if (ctx.stack.dlq_url or ctx.stack.ingest_queue_url) else None,
                dlq_url=ctx.stack.dlq_url,
                queue_url=ctx.stack.ingest_queue_url,
                sfn=ctx.client("stepfunctions") if executions else None,
                state_machine_arn=ctx.stack.state_machine_arn
                or (ctx.config().state_machine_arn if ctx.stack.function_name else None),
                executions_limit=executions,
                limits=limits,
            )
        finally:
            if reading is not None:
                reading.stop()
        if as_json:
            _print_json(report.as_dict())
        else:
            _print_status(report)
        if fail_on and LEVELS.index(report.level) >= LEVELS.index(fail_on):
            return 1
        return 0

    raise typer.Exit(_guard(body))


def _print_status(report: Any) -> None:
    colour = {"healthy": "green", "warning": "yellow", "critical": "red"}
    # In a terminal rich fits the width; in pipes and CI logs, 120 columns rather than 80.
    console = out if out.is_terminal else Console(highlight=False, width=120, file=sys.stdout)

    def show(renderable: Any) -> None:
        console.print(renderable)

    show(f"[bold]Pipeline status[/] at {report.generated_at}: [{colour[report.level]}]{report.level}[/]")
    health = Table(title="Health (thresholds: docs/runbook.md)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("indicator", "value", "level"):
        health.add_column(column, no_wrap=True)
    for indicator in report.indicators:
        health.add_row(
            indicator.name, str(indicator.value), f"[{colour[indicator.level]}]{indicator.level}[/]"
        )
    show(health)
    files = Table(title="Files and manifests per date", title_justify="left", box=box.SIMPLE_HEAD)
    headers = (
        "date",
        "pending",
        "manifested",
        "completed",
        "failed",
        "manifests p/r/c/f",
        "records out",
        "bad",
        "complete",
    )
    for column in headers:
        files.add_column(column, justify="left" if column in ("date", "complete") else "right", no_wrap=True)
    for day in report.dates:
        m = day.manifests_by_status
        files.add_row(
            day.date_prefix,
            *(str(day.files.get(s, 0)) for s in ("pending", "manifested", "completed", "failed")),
            f"{m['pending']}/{m['processing']}/{m['completed']}/{m['failed']}",
            str(day.totals.get("records_out", 0)),
            str(day.totals.get("bad_records", 0)),
            "yes" if day.complete else "no",
        )
    show(files)
    unfinished = [
        (d.date_prefix, m)
        for d in report.dates
        for m in d.manifests
        if m["status"] != "completed" and not m.get("superseded_by")
    ]
    if unfinished:
        table = Table(title="Manifests not completed", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("manifest", "status", "age", "files", "attempts", "error"):
            table.add_column(column, no_wrap=column != "error")
        for _day, m in unfinished:
            table.add_row(
                m["manifest_id"],
                m["status"],
                _age(m.get("age_seconds")),
                str(m.get("file_count")),
                str(m.get("attempts")),
                " / ".join(str(e) for e in (m.get("error"), m.get("job_error")) if e),
            )
        show(table)
    if report.oldest_pending:
        p = report.oldest_pending
        show(
            f"Oldest pending file: s3://{p['bucket']}/{p['key']} (date {p['date']}, waiting {_age(p['age_seconds'])})"
        )
    stuck = [(d.date_prefix, s) for d in report.dates for s in d.stuck_manifested]
    if stuck:
        show(
            f"[red]{len(stuck)} file(s) manifested past the grace period[/] (run `pipeline reconcile --dry-run`):"
        )
        for day, s in stuck[:20]:
            show(
                f"  {day} s3://{s['bucket']}/{s['key']} manifest {s['manifest_id']} ({_age(s['manifested_seconds'])})"
            )
    for day in report.dates:
        for replay in day.replays:
            if replay.get("status") != "completed":
                show(
                    f"[yellow]Replay {replay.get('replay_id')} of {day.date_prefix} is at step {replay.get('status')}[/]"
                    f" (started {replay.get('started_at')}): `pipeline replay --date {day.date_prefix}` follows it."
                )
    for name, queue in (("DLQ", report.dlq), ("Ingest queue", report.ingest_queue)):
        if queue is not None:
            show(f"{name}: {queue['visible']} visible, {queue['in_flight']} in flight")
    if report.failed_executions:
        table = Table(title="Recent failed executions", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("execution", "status", "stopped", "error", "cause"):
            table.add_column(column, no_wrap=column != "cause")
        for e in report.failed_executions:
            stopped = str(e.get("stopped_at") or "")[:19]
            table.add_row(
                e["name"], e["status"], stopped, str(e.get("error") or ""), str(e.get("cause") or "")[:100]
            )
        show(table)


# ------------------------------------------------------------------------------------------ retry


def retry_command(
    manifest_id: Annotated[
        str | None, typer.Argument(help="The manifest to run again.", show_default=False)
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Retry every failed manifest of the dates.")
    ] = False,
    date: DatesOpt = None,
    days: DaysOpt = 7,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until each retried manifest ends.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait with --wait.")] = 3600,
    as_json: JsonOpt = False,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    table: TableOpt = None,
    state_machine_arn: StateMachineOpt = None,
    function_name: FunctionOpt = None,
) -> None:
    """Run failed manifests again: execution `<manifest_id>-r<attempt>`, attempt count kept on the MANIFEST item."""
    from pipeline.ops.retry import RetryBatch, failed_manifests, retry_manifest, wait_final
    from pipeline.ops.status import check_date
    from pipeline.ops.table_reads import recent_dates

    if bool(manifest_id) == failed:
        raise typer.BadParameter("give either a MANIFEST_ID or --failed")

    def body() -> int:
        ctx = _context(
            outputs,
            endpoint_url,
            region,
            profile,
            tracking_table=table,
            state_machine_arn=state_machine_arn,
            function_name=function_name,
        )
        batch = RetryBatch()
        if manifest_id:
            ids = [manifest_id]
        else:
            dates = [check_date(d) for d in date] if date else recent_dates(days)
            ids = failed_manifests(ctx, dates)
            if not ids:
                err.print(
                    "No failed manifest in " + (", ".join(dates) if date else f"the last {days} days") + "."
                )
        for one in ids:
            try:
                outcome = retry_manifest(ctx, one)
            except Exception as exc:
                if not failed or getattr(exc, "error_name", None) is None:
                    raise
                batch.refused.append({"manifest_id": one, "error": exc.error_name, "message": str(exc)})
                continue
            batch.outcomes.append(outcome)
            if not as_json:
                out.print(
                    f"retrying {one} (attempt {outcome.attempt}, {outcome.files} files): "
                    f"{outcome.execution_arn}"
                )
        if wait and batch.outcomes:
            with _progress(not as_json) as progress:
                task = (
                    progress.add_task("waiting for the retried manifests", total=len(batch.outcomes))
                    if progress
                    else None
                )

                def tick(done: int, total: int) -> None:
                    if progress is not None and task is not None:
                        progress.update(task, completed=done, total=total)

                wait_final(ctx, batch.outcomes, timeout, progress=tick)
        if as_json:
            _print_json(
                {"retried": [o.as_dict() for o in batch.outcomes], "refused": batch.refused, "ok": batch.ok}
            )
        else:
            for o in batch.outcomes:
                if o.final_status:
                    out.print(f"{o.manifest_id}: {o.final_status}" + (f" ({o.error})" if o.error else ""))
            for r in batch.refused:
                err.print(f"not retried {r['manifest_id']}: {r['error']}: {r['message']}")
        return 0 if batch.ok else 1

    raise typer.Exit(_guard(body))


# ------------------------------------------------------------------------------------------ redrive


def redrive_command(
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Move at most N messages.", show_default=False)
    ] = None,
    one_by_one: Annotated[
        bool, typer.Option("--one-by-one", help="Never use SQS's message-move task.")
    ] = False,
    dlq_url: Annotated[str | None, typer.Option("--dlq-url", help="Dead-letter queue URL.")] = None,
    queue_url: Annotated[str | None, typer.Option("--queue-url", help="Ingest queue URL.")] = None,
    as_json: JsonOpt = False,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Move dead-letter messages back to the ingest queue (SQS's message-move task when available, else
    receive/send/delete with the delete only after the send succeeded). Nothing is lost if interrupted."""
    from pipeline.ops.redrive import redrive

    def body() -> int:
        ctx = _context(outputs, endpoint_url, region, profile, dlq_url=dlq_url, ingest_queue_url=queue_url)
        ctx.stack.require("dlq_url", "ingest_queue_url")
        sqs = ctx.client("sqs")
        with _progress(not as_json) as progress:
            task = progress.add_task("moving DLQ messages", total=None) if progress else None

            def tick(moved: int, total: int | None) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=moved, total=total)

            result = redrive(
                sqs,
                ctx.stack.get("dlq_url"),
                ctx.stack.get("ingest_queue_url"),
                max_messages=max_messages,
                sqs_probe=ctx.aws.client("sqs", single_attempt=True),
                custom_endpoint=bool(ctx.aws.endpoint_url),
                use_move_task=not one_by_one,
                progress=tick,
            )
        if as_json:
            _print_json(result.as_dict())
        else:
            out.print(
                f"moved {result.moved} message(s) with {result.method}; DLQ {result.dlq_before} -> "
                f"{result.dlq_after}"
                + (
                    f"; {result.failed_sends} refused by the ingest queue (left in the DLQ)"
                    if result.failed_sends
                    else ""
                )
            )
            for note in result.notes:
                out.print(f"note: {note}")
        if not result.ok:
            err.print(
                f"[bold red]error[RedriveIncomplete][/]: {result.failed_sends} message(s) could not be sent"
                + (
                    f"; the move task ended {result.task_status}: {result.task_failure}"
                    if result.task_status not in (None, "COMPLETED")
                    else ""
                )
                + ".",
                markup=True,
            )
            return 1
        return 0

    raise typer.Exit(_guard(body))


# ------------------------------------------------------------------------------------------ reconcile


def reconcile_command(
    date: DatesOpt = None,
    days: DaysOpt = 3,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be repaired; change nothing.")
    ] = False,
    grace_seconds: Annotated[
        int | None,
        typer.Option(
            "--grace-seconds",
            min=60,
            help="Repair claims older than this (default: the builder's REPAIR_GRACE_SECONDS).",
        ),
    ] = None,
    output_path: Annotated[
        str | None, typer.Option("--output-path", help="s3:// output root (job reports).")
    ] = None,
    as_json: JsonOpt = False,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    table: TableOpt = None,
    state_machine_arn: StateMachineOpt = None,
    function_name: FunctionOpt = None,
) -> None:
    """Crash repair on demand: open claims (as the scheduled flush repairs them) and unfinished manifests whose
    execution has ended (lost status updates)."""
    from pipeline.ops.reconcile import reconcile
    from pipeline.ops.status import check_date
    from pipeline.ops.table_reads import recent_dates

    def body() -> int:
        ctx = _context(
            outputs,
            endpoint_url,
            region,
            profile,
            tracking_table=table,
            state_machine_arn=state_machine_arn,
            function_name=function_name,
            output_path=output_path,
        )
        dates = [check_date(d) for d in date] if date else recent_dates(days)
        only = dates[0] if date and len(dates) == 1 else None
        result = reconcile(ctx, dates, only_date=only, dry_run=dry_run, grace_seconds=grace_seconds)
        if as_json:
            _print_json(result.as_dict())
        else:
            verb = "would" if dry_run else "did"
            if not result.claims and not result.manifests and not result.catalog:
                out.print("Nothing to reconcile.")
            for c in result.claims:
                out.print(
                    f"claim {c.manifest_id} ({c.date_prefix}, {c.files} files, claimed {c.claimed_at}): "
                    f"{verb} {c.action}"
                )
            for m in result.manifests:
                out.print(
                    f"manifest {m.manifest_id} ({m.date_prefix}) is {m.status} but its execution ended "
                    f"{m.execution_status}: {verb} {m.action}" + (f" ({m.error})" if m.error else "")
                )
            for c in result.catalog:
                out.print(
                    f"date {c.date_prefix}: no catalog partition for {len(c.manifests)} completed manifest(s): "
                    f"{verb} {c.action}"
                )
            for problem in result.problems:
                err.print(f"problem: {problem}")
        return 0 if result.ok else 1

    raise typer.Exit(_guard(body))


# ------------------------------------------------------------------------------------------ backfill


def backfill_command(
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket to list (default: the input bucket).")
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix to list.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be tracked; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    table: TableOpt = None,
    state_machine_arn: StateMachineOpt = None,
    function_name: FunctionOpt = None,
) -> None:
    """Track objects already in S3 that have no tracking item, through the same idempotent path as live events."""
    from pipeline.ops.backfill import backfill

    def body() -> int:
        ctx = _context(
            outputs,
            endpoint_url,
            region,
            profile,
            tracking_table=table,
            state_machine_arn=state_machine_arn,
            function_name=function_name,
            input_bucket=bucket,
        )
        with _progress(not as_json) as progress:
            task = progress.add_task("listing and tracking objects", total=None) if progress else None

            def tick(seen: int) -> None:
                if progress is not None and task is not None:
                    progress.update(task, completed=seen)

            result = backfill(ctx, ctx.stack.get("input_bucket"), prefix, dry_run=dry_run, progress=tick)
        if as_json:
            _print_json(result.as_dict())
        else:
            verb = "would track" if dry_run else "tracked"
            out.print(
                f"s3://{result.bucket}/{result.prefix}: {result.listed} object(s) listed, {verb} "
                f"{result.tracked}, {result.already_tracked} already tracked, {result.skipped_suffix} skipped "
                f"(suffix not accepted); {len(result.manifests_started)} manifest(s) started"
            )
            for day, count in sorted(result.dates.items()):
                out.print(f"  {day}: {count} file(s)")
            if result.tracked and not dry_run:
                out.print("Partial batches start with the scheduled flush (MAX_BATCH_WAIT_SECONDS).")
        return 0

    raise typer.Exit(_guard(body))


# ------------------------------------------------------------------------------------------ replay


def replay_command(
    date: Annotated[
        str, typer.Option("--date", help="The date to reprocess (YYYY-MM-DD).", show_default=False)
    ],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the new runs and swap the output.")
    ] = True,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the new runs.")] = 6
    * 3600,
    keep_snapshot: Annotated[
        bool, typer.Option("--keep-snapshot", help="Keep the old output's snapshot.")
    ] = False,
    output_path: Annotated[str | None, typer.Option("--output-path", help="s3:// output root.")] = None,
    bad_records_path: Annotated[
        str | None, typer.Option("--bad-records-path", help="s3:// quarantine root.")
    ] = None,
    glue_database: Annotated[
        str | None, typer.Option("--glue-database", help="Glue database of the table.")
    ] = None,
    glue_table: Annotated[str | None, typer.Option("--glue-table", help="Glue table name.")] = None,
    lake: Annotated[
        Path | None,
        typer.Option(
            "--lake", help="Local folder mirroring the output (embedded mode: <workdir>/lake), kept in step."
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(
            "--quarantine",
            help="Local folder mirroring the quarantine (embedded mode: <workdir>/quarantine).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    outputs: OutputsOpt = None,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    table: TableOpt = None,
    state_machine_arn: StateMachineOpt = None,
    function_name: FunctionOpt = None,
) -> None:
    """Reprocess a date from its raw files under new manifests; the catalog switches from the old output to the
    new one atomically when every new run has finished (design: docs/runbook.md). Run again to resume."""
    from pipeline.ops.replay import local_mirrors, replay
    from pipeline.ops.status import check_date

    def body() -> int:
        day = check_date(date)
        ctx = _context(
            outputs,
            endpoint_url,
            region,
            profile,
            tracking_table=table,
            state_machine_arn=state_machine_arn,
            function_name=function_name,
            output_path=output_path,
            bad_records_path=bad_records_path,
            glue_database=glue_database,
            glue_table=glue_table,
        )
        mirrors = local_mirrors(lake, quarantine, ctx.stack.output_path, ctx.stack.bad_records_path)
        with _progress(not as_json) as progress:
            tasks: dict[str, Any] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if progress is None:
                    return
                if stage not in tasks:
                    tasks[stage] = progress.add_task(f"replay {day}: {stage}", total=total)
                progress.update(tasks[stage], completed=done, total=total)

            result = replay(
                ctx,
                day,
                wait=wait,
                timeout_seconds=timeout,
                keep_snapshot=keep_snapshot,
                mirrors=mirrors,
                progress=tick,
            )
        if as_json:
            _print_json(result.as_dict())
        else:
            how = "resumed" if result.resumed else "started"
            out.print(
                f"replay {result.replay_id} ({how}): {result.status}; {result.completed_files}/{result.files} "
                f"files converted under {len(result.new_manifests)} new manifest(s), replacing "
                f"{result.old_manifest_count} old one(s)"
                + ("; catalog partition switched" if result.catalog_swapped else "")
            )
            if result.status != "completed":
                out.print(f"Run `pipeline replay --date {day}` again to follow it to the end.")
        return 0

    raise typer.Exit(_guard(body))


# ------------------------------------------------------------------------------------------ registration


def register(app: typer.Typer) -> None:
    """Add the operator commands to the `pipeline` app."""
    app.command("status")(status_command)
    app.command("retry")(retry_command)
    app.command("redrive")(redrive_command)
    app.command("reconcile")(reconcile_command)
    app.command("backfill")(backfill_command)
    app.command("replay")(replay_command)


ops_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Operator commands of the NDJSON-to-Parquet pipeline.",
)
register(ops_app)
