"""What the operator commands print for a person (with `--json` they print the result's `as_dict()` instead).

One line per fact, so the output greps and copy-pastes; `status` lays out tables (120 columns when not on a
terminal, rather than 80, for pipes and CI logs). Errors are not printed here: pipeline/cli/output.py does that.
"""

from __future__ import annotations

import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from pipeline.cli.output import err, out
from pipeline.ops.status import contract_rows


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


def print_status(report: Any) -> None:
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
    contract = contract_rows(report)
    if contract:
        table = Table(
            title="Schema contract and snapshot per batch", title_justify="left", box=box.SIMPLE_HEAD
        )
        for column in ("date", "manifest", "columns added", "values converted", "quarantined", "snapshot"):
            table.add_column(
                column, justify="left" if column in ("date", "manifest") else "right", no_wrap=True
            )
        for row in contract[-30:]:
            table.add_row(
                row["date"],
                row["manifest_id"],
                str(row["columns_added"]),
                str(row["values_converted"]),
                str(row["contract_quarantined"]),
                str(row["snapshot_id"] or "-"),
            )
        show(table)
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


def print_pipeline_metrics(metrics: dict[str, Any]) -> None:
    """The "Pipeline metrics" section of `pipeline status` (pipeline/ops/pipeline_metrics.py)."""
    console = out if out.is_terminal else Console(highlight=False, width=120, file=sys.stdout)
    if not metrics.get("available"):
        console.print(f"[bold]Pipeline metrics[/]: metrics unavailable: {metrics.get('reason')}", markup=True)
        return
    from pipeline.ops.pipeline_metrics import SUMMED

    table = Table(
        title=f"Pipeline metrics (CloudWatch {metrics['namespace']})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("metric", "last hour", "last 24 h"):
        table.add_column(column, justify="left" if column == "metric" else "right", no_wrap=True)
    for key, _ in SUMMED:
        table.add_row(
            key.replace("_", " "),
            f"{metrics['last_hour'][key]:g}",
            f"{metrics['last_24h'][key]:g}",
        )
    console.print(table)
    fresh = metrics["freshness"]
    if fresh["seconds"] is None:
        line = "freshness: no datapoint in the last 24 h (no flush reported it)"
    else:
        line = f"freshness: {_age(fresh['seconds'])} at {fresh['at']}"
        if fresh["objective_seconds"] is not None:
            verdict = "within" if fresh["within_objective"] else "[red]above[/]"
            line += f", {verdict} the objective of {_age(fresh['objective_seconds'])}"
    console.print(line)


def print_retry(batch: Any) -> None:
    for o in batch.outcomes:
        if o.final_status:
            out.print(f"{o.manifest_id}: {o.final_status}" + (f" ({o.error})" if o.error else ""))
    for r in batch.refused:
        err.print(f"not retried {r['manifest_id']}: {r['error']}: {r['message']}")


def print_redrive(result: Any) -> None:
    if not (result.moved or result.failed_sends or result.dlq_before or result.dlq_after):
        out.print("Nothing to redrive: the dead-letter queue is empty.")
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


def print_reconcile(result: Any, dry_run: bool) -> None:
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


def print_backfill(result: Any, dry_run: bool) -> None:
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


def print_replay(result: Any, day: str) -> None:
    how = "resumed" if result.resumed else "started"
    out.print(
        f"replay {result.replay_id} ({how}): {result.status}; {result.completed_files}/{result.files} "
        f"files converted under {len(result.new_manifests)} new manifest(s), replacing "
        f"{result.old_manifest_count} old one(s)"
        + ("; catalog partition switched" if result.catalog_swapped else "")
    )
    if result.swap_snapshot_id is not None:  # iceberg: one overwrite snapshot, the old data stays readable
        out.print(
            f"Iceberg snapshot {result.swap_snapshot_id}; the old data: --as-of {result.before_snapshot_id}"
        )
    if result.status != "completed":
        out.print(f"Run `pipeline replay --date {day}` again to follow it to the end.")
