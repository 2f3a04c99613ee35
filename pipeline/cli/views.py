"""How results look on a terminal: the embedded run's stages, progress bars and summary, query results and the
endpoint banner of `pipeline up`. Commands decide what to show; this module only lays it out (rich tables on the
consoles of pipeline/cli/output.py); the operator commands' reports are in pipeline/cli/reports.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.status import Status
from rich.table import Table

from pipeline.cli.output import console

STAGE_LABELS = {
    "aws_start": "embedded AWS start",
    "lambda_zip": "Lambda zip build",
    "terraform_init": "Terraform init, in parallel",
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


# --------------------------------------------------------------------------------------------- embedded runs


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
        with self._lock:
            self.console.print(message, markup=False, soft_wrap=True)

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


FIRST_NAMES = 5  # how many names a "these files were ..." line shows before "and N more"


def first_names(names: list[str], limit: int = FIRST_NAMES) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _files(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def print_skipped_inputs(skipped: list[tuple[str, str]], folder: Path) -> None:
    """The files of the input folder the run leaves out: count, first names, why (one line per reason)."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped:
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        console.print(
            f"[yellow]skipped[/] {_files(len(names))} of {escape(str(folder))}, not uploaded ({escape(why)}): "
            + escape(first_names(names)),
            soft_wrap=True,
        )


def print_summary(summary: Any) -> None:
    table = Table(title="Summary", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    files = (
        f"{summary.files} ({_mb(summary.input_bytes)}): {summary.files_completed} completed, "
        f"{summary.files_failed} failed"
    )
    output = (
        f"{summary.output_files} Parquet files, {_mb(summary.output_bytes)}, "
        f"codec {summary.codec or summary.compression_argument or '?'}"
    )
    table.add_row("files", files)
    if summary.duplicate_notifications:
        table.add_row("duplicate notifications", f"{summary.duplicate_notifications} (tracked once, ignored)")
    completed = sum(1 for m in summary.manifests if m.status == "completed")
    failed = sum(1 for m in summary.manifests if m.status == "failed")
    unfinished = len(summary.manifests) - completed - failed
    count = len(summary.manifests)
    batches_row = f"{count} batch{'' if count == 1 else 'es'}: {completed} completed, {failed} failed" + (
        f", {unfinished} not finished" if unfinished else ""
    )
    table.add_row("batches (manifests)", batches_row)
    table.add_row("records in", f"{summary.lines:,} non-blank lines")
    table.add_row("records out", f"{summary.records_out:,} rows this run added to the lake")
    table.add_row(
        "table",
        "replaced the previous run's table"
        if getattr(summary, "replaced_previous_table", False)
        else "new (the lake held no previous table)",
    )
    table.add_row("quarantined", f"{summary.quarantined:,} bad lines")
    skipped_columns = getattr(summary, "catalog_skipped_columns", [])
    if skipped_columns:
        table.add_row(
            "left out of the catalog",
            f"{len(skipped_columns)} field{'' if len(skipped_columns) == 1 else 's'} (kept in the Parquet "
            "files, not queryable through the catalog): " + escape("; ".join(skipped_columns)),
        )
    undated = getattr(summary, "undated_files", [])
    if undated:
        table.add_row(
            "no date folder",
            f"{_files(len(undated))} in partition dt={summary.undated_partition} (the upload day): "
            + escape(first_names(undated)),
        )
    table.add_row("output", output)
    if summary.dlq_messages:
        table.add_row("dead-letter queue", f"{summary.dlq_messages} messages")
    for name in [*STAGE_LABELS, *(k for k in summary.timings if k not in STAGE_LABELS)]:
        if name in summary.timings:
            table.add_row(f"seconds: {STAGE_LABELS.get(name, name)}", _seconds(summary.timings[name]))
    console.print(table)
    batches = Table(title="Batches", title_justify="left")
    snapshots = any(m.snapshot_id is not None for m in summary.manifests)  # an Iceberg table: one commit each
    columns = ("manifest", "date", "files", "records out", "bad", "files out", "status", "freshness")
    numeric = ("files", "records out", "bad", "files out", "freshness")
    for column in (*columns, "snapshot") if snapshots else columns:
        batches.add_column(column, justify="right" if column in numeric else "left")
    for m in summary.manifests:
        cells = [
            m.manifest_id,
            m.date_prefix,
            str(m.file_count),
            f"{m.lake_rows or 0:,}",
            str(m.quarantine_lines or 0),
            str(m.output_files or 0),
            m.status,
            "-" if getattr(m, "freshness_seconds", None) is None else _seconds(m.freshness_seconds),
        ]
        batches.add_row(*cells, *([m.snapshot_label] if snapshots else []))
    console.print(batches)


HEALTH_STYLE = {"healthy": "green", "warning": "yellow", "critical": "bold red"}


def watch_view(frame: Any) -> Group:
    """One frame of `pipeline status --watch` (a pipeline.ops.status.WatchFrame): a header line with the
    freshness, then the files per date and status."""
    style = HEALTH_STYLE.get(frame.health, "")
    header = (
        f"[bold]pipeline status --watch[/]  refresh {frame.refresh} at {frame.refreshed_at}, every "
        f"{frame.interval_seconds:g} s (Ctrl-C to stop)\n"
        + (
            f"freshness: {frame.freshness_seconds:,.1f} s (oldest pending file "
            f"{escape(str(frame.oldest_pending.get('key')))})"
            if frame.oldest_pending
            else f"freshness: {frame.freshness_seconds:,.1f} s (no pending file)"
        )
        + f"   health: [{style}]{frame.health}[/]"
        + (f"   dead-letter queue: {frame.dlq_depth}" if frame.dlq_depth is not None else "")
    )
    table = Table(title="files per date", title_justify="left")
    table.add_column("date")
    for name in frame.totals:
        table.add_column(name, justify="right")
    for row in frame.rows:
        table.add_row(row["date"], *(str(row[name]) for name in frame.totals))
    if len(frame.rows) > 1:
        table.add_row("all", *(str(value) for value in frame.totals.values()), style="bold")
    if not frame.rows:
        table.add_row("(no tracked file)", *("" for _ in frame.totals))
    return Group(header, table)


def result_table(result: Any) -> Table:
    table = Table()
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*["NULL" if value is None else str(value) for value in row])
    return table


def print_endpoint(endpoint: str, outputs_file: Path, outputs: Any) -> None:
    console.print()
    console.print(f"[bold]Embedded AWS[/] listening on {endpoint}. Point the AWS CLI or boto3 at it:")
    console.print(f"  export AWS_ENDPOINT_URL={endpoint}")
    from pipeline.embedded.server import harness_credentials, operator_environment

    keys = harness_credentials()  # the harness-only admin's once IAM is enforced (docs/iam.md)
    console.print(
        f"  export AWS_ACCESS_KEY_ID={keys['AWS_ACCESS_KEY_ID']} "
        f"AWS_SECRET_ACCESS_KEY={keys['AWS_SECRET_ACCESS_KEY']} AWS_DEFAULT_REGION=us-east-1",
        soft_wrap=True,
        markup=False,
    )
    console.print(f"  export PIPELINE_STACK_OUTPUTS={outputs_file}")
    operator = operator_environment()
    if operator:
        console.print("The operator commands with the operators' role (its policy is operator_policy_json):")
        console.print(
            "  " + " ".join(f"{key}={value}" for key, value in operator.items()) + " pipeline status",
            soft_wrap=True,
            markup=False,
        )
    if outputs is not None:
        console.print(
            f"Drop files with: aws s3 cp FILE.ndjson s3://{outputs.input_bucket}/{outputs.input_prefix}"
            "<date>/FILE.ndjson"
        )
    console.print("Press Ctrl-C to stop.")
