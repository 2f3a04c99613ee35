"""`pipeline maintain`: compact, expire and sweep the stack's Iceberg table (pipeline/ops/maintain.py), then print
one row per partition (files and bytes before/after, orphans removed) and the totals.

Works against real AWS or the embedded AWS (`--endpoint-url`), with the stack's names from `--outputs` or flags,
like the other operator commands (pipeline/cli/ops.py). Exit status 0 when the maintenance ran, 1 when it failed.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pipeline.cli.options import (
    AsJsonOpt,
    GlueDatabaseOpt,
    GlueTableOpt,
    OutputPathOpt,
    StackOptions,
    stack_options,
)
from pipeline.cli.output import guarded_ops, out, print_json


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover


def print_maintenance(report: dict[str, Any]) -> None:
    table = Table(box=box.SIMPLE, title=f"maintenance of {report.get('table', report['table_location'])}")
    for column in (
        "date",
        "files before",
        "bytes before",
        "files after",
        "bytes after",
        "compacted",
        "orphans",
    ):
        table.add_column(column, justify="left" if column == "date" else "right", no_wrap=True)
    for day in report["partitions"]:
        table.add_row(
            day["date"],
            str(day["files_before"]),
            _size(day["bytes_before"]),
            str(day["files_after"]),
            _size(day["bytes_after"]),
            f"{day['files_compacted']} -> {day['files_written']}" if day["files_compacted"] else "-",
            str(day["orphans_removed"]),
        )
    # In a terminal rich fits the width; in pipes and CI logs, 120 columns rather than 80 (as `status`).
    console = out if out.is_terminal else Console(highlight=False, width=120, file=sys.stdout)
    console.print(table)
    compaction, snapshots, orphans = report["compaction"], report["snapshots"], report["orphans"]
    out.print(
        f"compaction: {compaction['files_compacted']} files -> {compaction['files_written']} in snapshot "
        f"{compaction['snapshot_id'] or '-'} ({compaction['seconds']} s)"
    )
    out.print(
        f"snapshots: {snapshots['snapshots_expired']} of {snapshots['snapshots_before']} expired "
        f"(older than {snapshots['older_than']})"
    )
    out.print(
        f"orphans: {orphans['orphans_removed']} files removed ({_size(orphans['bytes_removed'])}), "
        f"{orphans['kept_too_young']} younger than the safety window kept"
    )
    out.print(f"report: {report['report_path']} ({report['seconds']} s)")


@stack_options(names=False)  # no tracking table, state machine or Lambda involved
def maintain_command(
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Only this date's partition (YYYY-MM-DD); default: every date.", show_default=False
        ),
    ] = None,
    retention_hours: Annotated[
        int, typer.Option("--retention-hours", min=1, help="Expire snapshots older than this.")
    ] = 168,
    orphan_age_hours: Annotated[
        int, typer.Option("--orphan-age-hours", min=1, help="Remove unreferenced files older than this.")
    ] = 72,
    target_file_mb: Annotated[
        int, typer.Option("--target-file-mb", min=1, max=10_240, help="Size of the compacted files.")
    ] = 128,
    output_path: OutputPathOpt = None,
    glue_database: GlueDatabaseOpt = None,
    glue_table: GlueTableOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Compact each partition's small files in one atomic commit, expire old snapshots, remove orphan files
    (the scheduled Glue run of the job in --MODE maintain runs the same code)."""
    from pipeline.ops.maintain import MaintainRequest, maintain
    from pipeline.ops.status import check_date

    def body() -> int:
        day = check_date(date) if date else None
        ctx = stack.context(output_path=output_path, glue_database=glue_database, glue_table=glue_table)
        report = maintain(
            ctx,
            MaintainRequest(
                date=day,
                retention_hours=retention_hours,
                orphan_age_hours=orphan_age_hours,
                target_file_mb=target_file_mb,
            ),
        )
        if as_json:
            print_json(report)
        else:
            print_maintenance(report)
        return 0

    raise typer.Exit(guarded_ops(body))


def register(app: typer.Typer) -> None:
    app.command("maintain")(maintain_command)
