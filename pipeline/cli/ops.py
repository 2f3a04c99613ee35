"""Operator commands of the `pipeline` CLI: status, retry, redrive, reconcile, backfill, replay.

`register(app)` adds them to the main typer app (pipeline/cli/app.py). Every command works against real AWS through
boto3's credential chain, or the embedded AWS with `--endpoint-url` / `AWS_ENDPOINT_URL`; the stack's names come
from `--outputs FILE` / `$PIPELINE_STACK_OUTPUTS` (`terraform output -json`) or per-name flags. Exit status: 0 when
the command did what it was asked, 1 when it failed or found its target in a failed state (the error's stable name
and one sentence go to stderr), 2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli.options import (
    AsJsonOpt,
    DatesOpt,
    DaysOpt,
    DlqUrlOpt,
    EndpointOpt,
    ProfileOpt,
    QueueUrlOpt,
    RegionOpt,
    StackOptions,
    stack_options,
)
from pipeline.cli.output import err, fail, guarded_ops, out, print_json, progress_bar, progress_ticks, spinner
from pipeline.cli.reports import (
    print_backfill,
    print_pipeline_metrics,
    print_reconcile,
    print_redrive,
    print_replay,
    print_retry,
    print_status,
)
from pipeline.contracts.errors import PipelineError

# ------------------------------------------------------------------------------------------ status


@stack_options()
def status_command(
    date: DatesOpt = None,
    days: DaysOpt = 3,
    as_json: AsJsonOpt = False,
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
    dlq_url: DlqUrlOpt = None,
    queue_url: QueueUrlOpt = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="A live view of the flow and the freshness, refreshed until Ctrl-C."),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Seconds between refreshes with --watch.", show_default="5"),
    ] = None,
    *,
    stack: StackOptions,
) -> None:
    """Files by status per date, manifests with their age, the oldest pending file, stuck files, DLQ depth,
    recent failed executions, and health indicators (docs/runbook.md). With --watch: files pending /
    processing / completed / failed per date, batches running and the freshness, refreshed every few seconds."""
    from pipeline.ops.status import LEVELS, Thresholds, collect

    if fail_on not in (None, "warning", "critical"):
        raise typer.BadParameter("--fail-on takes warning or critical")
    if interval is not None and not watch:
        raise typer.BadParameter("--interval goes with --watch")
    if interval is not None and not interval > 0:
        raise typer.BadParameter(f"--interval must be a number of seconds above 0, not {interval:g}")
    if watch and (as_json or fail_on):
        raise typer.BadParameter("--watch is a live view: it takes neither --json nor --fail-on")

    def body() -> int:
        ctx = stack.context(dlq_url=dlq_url, ingest_queue_url=queue_url)
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

        def read(with_executions: bool = True) -> Any:
            return collect(
                ctx.ddb,
                ctx.table_name,
                dates=date,
                days=days,
                pending_shards=shards,
                sqs=ctx.client("sqs") if (ctx.stack.dlq_url or ctx.stack.ingest_queue_url) else None,
                dlq_url=ctx.stack.dlq_url,
                queue_url=ctx.stack.ingest_queue_url,
                sfn=ctx.client("stepfunctions") if executions and with_executions else None,
                state_machine_arn=ctx.stack.state_machine_arn
                or (ctx.config().state_machine_arn if ctx.stack.function_name else None),
                executions_limit=executions,
                limits=limits,
            )

        if watch:
            from pipeline.control_plane.adapters.tracking import TrackingTable

            return _watch(read, TrackingTable(ctx.ddb, ctx.table_name, ctx.retry, shards), interval or 5.0)
        from pipeline.ops.pipeline_metrics import read_pipeline_metrics

        with spinner("reading the tracking table, queues, executions and metrics"):
            report = read()
            metrics = read_pipeline_metrics(
                ctx.client("cloudwatch"),
                ctx.stack.metrics_namespace,
                objective_seconds=ctx.stack.freshness_objective_seconds,
            )
        if as_json:
            print_json({**report.as_dict(), "metrics": metrics})
        else:
            print_status(report)
            print_pipeline_metrics(metrics)
        if fail_on and LEVELS.index(report.level) >= LEVELS.index(fail_on):
            return 1
        return 0

    raise typer.Exit(guarded_ops(body))


def _watch(read: Any, tracking: Any, interval: float) -> int:
    """Refresh the live view every `interval` seconds until Ctrl-C (exit 0). On a terminal the view redraws in
    place (rich Live); piped, each refresh is printed after the previous one."""
    import time
    from datetime import UTC, datetime

    from rich.live import Live

    from pipeline.cli.output import console
    from pipeline.cli.views import watch_view
    from pipeline.control_plane.adapters.pending_reader import pending_freshness
    from pipeline.ops.status import watch_frame

    def frame(refresh: int) -> Any:
        report = read(with_executions=False)
        _, freshness = pending_freshness(tracking, datetime.now(UTC))
        return watch_view(watch_frame(report, freshness, refresh, interval))

    refresh = 0
    try:
        if not console.is_terminal:
            while True:
                refresh += 1
                console.print(frame(refresh))
                time.sleep(interval)
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while True:
                refresh += 1
                live.update(frame(refresh), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        console.print(f"stopped after {refresh} refresh{'' if refresh == 1 else 'es'}.")
        return 0


# ------------------------------------------------------------------------------------------ retry


@stack_options()
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
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Run failed manifests again: execution `<manifest_id>-r<attempt>`, attempt count kept on the MANIFEST item."""
    from pipeline.ops.retry import RetryBatch, failed_manifests, retry_manifest, wait_final
    from pipeline.ops.status import check_date
    from pipeline.ops.table_reads import recent_dates

    if bool(manifest_id) == failed:
        raise typer.BadParameter("give either a MANIFEST_ID or --failed")

    def body() -> int:
        ctx = stack.context()
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
                if not failed or not isinstance(exc, PipelineError):
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
            with progress_ticks(
                "waiting for the retried manifests", len(batch.outcomes), not as_json
            ) as tick:
                wait_final(ctx, batch.outcomes, timeout, progress=tick)
        if as_json:
            print_json(
                {"retried": [o.as_dict() for o in batch.outcomes], "refused": batch.refused, "ok": batch.ok}
            )
        else:
            print_retry(batch)
        return 0 if batch.ok else 1

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ redrive


@stack_options(names=False)
def redrive_command(
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Move at most N messages.", show_default=False)
    ] = None,
    one_by_one: Annotated[
        bool, typer.Option("--one-by-one", help="Never use SQS's message-move task.")
    ] = False,
    dlq_url: DlqUrlOpt = None,
    queue_url: QueueUrlOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Move dead-letter messages back to the ingest queue (SQS's message-move task when available, else
    receive/send/delete with the delete only after the send succeeded). Nothing is lost if interrupted."""
    from pipeline.ops.redrive import redrive

    def body() -> int:
        ctx = stack.context(dlq_url=dlq_url, ingest_queue_url=queue_url)
        ctx.stack.require("dlq_url", "ingest_queue_url")
        sqs = ctx.client("sqs")
        with progress_ticks("moving DLQ messages", None, not as_json) as tick:
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
            print_json(result.as_dict())
        else:
            print_redrive(result)
        if not result.ok:
            ended = (
                f"; the move task ended {result.task_status}: {result.task_failure}"
                if result.task_status not in (None, "COMPLETED")
                else ""
            )
            message = f"{result.failed_sends} message(s) could not be sent{ended}."
            return fail(PipelineError.named("RedriveIncomplete", message), err).exit_code
        return 0

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ reconcile


@stack_options()
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
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Crash repair on demand: open claims (as the scheduled flush repairs them) and unfinished manifests whose
    execution has ended (lost status updates)."""
    from pipeline.ops.reconcile import reconcile
    from pipeline.ops.status import check_date
    from pipeline.ops.table_reads import recent_dates

    def body() -> int:
        ctx = stack.context(output_path=output_path)
        dates = [check_date(d) for d in date] if date else recent_dates(days)
        only = dates[0] if date and len(dates) == 1 else None
        result = reconcile(ctx, dates, only_date=only, dry_run=dry_run, grace_seconds=grace_seconds)
        if as_json:
            print_json(result.as_dict())
        else:
            print_reconcile(result, dry_run)
        return 0 if result.ok else 1

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ backfill


@stack_options()
def backfill_command(
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket to list (default: the input bucket).")
    ] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix to list.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be tracked; change nothing.")
    ] = False,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Track objects already in S3 that have no tracking item, through the same idempotent path as live events."""
    from pipeline.ops.backfill import backfill

    def body() -> int:
        ctx = stack.context(input_bucket=bucket)
        with progress_ticks("listing and tracking objects", None, not as_json) as tick:
            result = backfill(ctx, ctx.stack.get("input_bucket"), prefix, dry_run=dry_run, progress=tick)
        if as_json:
            print_json(result.as_dict())
        else:
            print_backfill(result, dry_run)
        return 0

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ replay


@stack_options()
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
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Reprocess a date from its raw files under new manifests; the catalog switches from the old output to the
    new one atomically when every new run has finished (design: docs/runbook.md). Run again to resume."""
    from pipeline.ops.replay import local_mirrors, replay
    from pipeline.ops.status import check_date

    def body() -> int:
        day = check_date(date)
        ctx = stack.context(
            output_path=output_path,
            bad_records_path=bad_records_path,
            glue_database=glue_database,
            glue_table=glue_table,
        )
        mirrors = local_mirrors(lake, quarantine, ctx.stack.output_path, ctx.stack.bad_records_path)
        with progress_bar(not as_json) as progress:
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
            print_json(result.as_dict())
        else:
            print_replay(result, day)
        return 0

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ doctor


def doctor_command(
    aws: Annotated[
        bool, typer.Option("--aws", help="Check the AWS account and region (the only target so far).")
    ] = False,
    var_file: Annotated[
        Path | None,
        typer.Option(
            "--var-file", help="The Terraform variables the apply will use (.tfvars or .tfvars.json)."
        ),
    ] = None,
    kms_key_arn: Annotated[
        str | None,
        typer.Option("--kms-key-arn", help="Bring-your-own key to check (overrides the var file)."),
    ] = None,
    wheel_bundle: Annotated[
        str | None,
        typer.Option(
            "--wheel-bundle", help="s3:// URL of the job's wheel bundle, if Glue has no PyPI egress."
        ),
    ] = None,
    builder_concurrency: Annotated[
        int | None, typer.Option("--manifest-builder-reserved-concurrency", min=1)
    ] = None,
    updater_concurrency: Annotated[
        int | None, typer.Option("--status-updater-reserved-concurrency", min=1)
    ] = None,
    as_json: AsJsonOpt = False,
    endpoint_url: EndpointOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Read-only preflight before `terraform apply`: Lambda concurrency quota, Glue in the region, Lake Formation
    defaults, a bring-your-own key's policy, the codec for Athena, PyPI egress or the wheel bundle. One line per
    check (ok / warn / fail + the fix); exit 1 when a check fails (docs/runbook.md)."""
    from pipeline.ops.aws import AwsSession
    from pipeline.ops.doctor import effective_variables, read_var_file, run_doctor

    if not aws:
        raise typer.BadParameter(
            "pass --aws (the account and region of the credential chain or --endpoint-url)"
        )

    def body() -> int:
        file_values = read_var_file(var_file) if var_file else {}
        variables = effective_variables(
            file_values,
            {
                "kms_key_arn": kms_key_arn,
                "manifest_builder_reserved_concurrency": builder_concurrency,
                "status_updater_reserved_concurrency": updater_concurrency,
            },
        )
        session = AwsSession.create(endpoint_url, region or variables.get("aws_region"), profile)
        report = run_doctor(session, variables, wheel_bundle=wheel_bundle)
        if as_json:
            print_json(report.as_dict())
        else:
            out.print(f"pipeline doctor --aws: region {report.region}", markup=False, highlight=False)
            for finding in report.findings:
                out.print(finding.line(), markup=False, highlight=False, soft_wrap=True)
        return 1 if report.failed else 0

    raise typer.Exit(guarded_ops(body))


# ------------------------------------------------------------------------------------------ registration


def register(app: typer.Typer) -> None:
    """Add the operator commands to the `pipeline` app."""
    app.command("status")(status_command)
    app.command("retry")(retry_command)
    app.command("redrive")(redrive_command)
    app.command("reconcile")(reconcile_command)
    app.command("backfill")(backfill_command)
    app.command("replay")(replay_command)
    app.command("doctor")(doctor_command)


ops_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Operator commands of the NDJSON-to-Parquet pipeline.",
)
register(ops_app)
