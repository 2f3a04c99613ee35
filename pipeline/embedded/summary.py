"""What a run shows while it runs (the `Reporter` protocol, fed `Snapshot`s) and what it leaves behind (the
`RunSummary`, written to the work folder for `pipeline query` and to logs/summary.json)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pipeline.embedded.layout import WorkLayout
from pipeline.embedded.query import RUN_INFO_FILE

logger = logging.getLogger(__name__)


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
    # A failed batch: the Glue job's `<error name>: <sentence>` (from the MANIFEST item's cause or the job run).
    job_error: str | None = None
    lake_rows: int | None = None
    quarantine_lines: int | None = None
    # Iceberg tables (the job report's fields): the snapshot the manifest's one commit made, and how it ended
    # ("committed", or "already_committed" for a re-run of a committed manifest).
    table_format: str | None = None
    snapshot_id: int | None = None
    commit: str | None = None
    # A batch that did not complete: its input files (the user's paths where known), and the files with the most
    # quarantined lines first, with their counts (the files most responsible for a bad-line ratio failure).
    files: list[str] = field(default_factory=list)
    bad_lines_by_file: list[tuple[str, int]] = field(default_factory=list)
    # A completed batch: seconds from its files' landing (the earliest `created_at` of its files, when the pipeline
    # tracked them) to its completion (the MANIFEST item's `completed_at`): how long its oldest line waited.
    freshness_seconds: float | None = None

    @property
    def culprits(self) -> str:
        """The files most responsible for the batch's failure, as one phrase ('' when nothing is known)."""
        if self.bad_lines_by_file:
            shown = ", ".join(f"{name} ({count} bad)" for name, count in self.bad_lines_by_file[:3])
            more = len(self.bad_lines_by_file) - 3
            return "the files with the most bad lines: " + shown + (f" and {more} more" if more > 0 else "")
        if self.files:
            more = len(self.files) - 3
            return "its files: " + ", ".join(self.files[:3]) + (f" and {more} more" if more > 0 else "")
        return ""

    @property
    def snapshot_label(self) -> str:
        """The batch's snapshot for the summary: the id, marked when a re-run found it committed; `-` if none."""
        if self.snapshot_id is None:
            return "-"
        return (
            f"{self.snapshot_id} (already committed)"
            if self.commit == "already_committed"
            else str(self.snapshot_id)
        )


def report_table_fields(report: dict[str, Any], item: dict[str, Any] | None = None) -> dict[str, Any]:
    """`table_format`, `snapshot_id` and `commit` of a batch, from its MANIFEST item or else its job report."""
    item = item or {}
    snapshot = item.get("snapshot_id", report.get("snapshot_id"))
    try:
        snapshot_id = int(snapshot) if snapshot not in (None, "") else None
    except (TypeError, ValueError):
        snapshot_id = None
    table_format = item.get("table_format", report.get("table_format"))
    commit = item.get("commit", report.get("commit"))
    return {
        "table_format": str(table_format) if table_format else None,
        "snapshot_id": snapshot_id,
        "commit": str(commit) if commit else None,
    }


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
    table_format: str | None = None  # what the batches' job reports say ("iceberg" | "parquet"), if they say
    replaced_previous_table: bool = (
        False  # the lake held a previous run's table: this run's table replaced it
    )
    # Parquet format: the fields the status update's catalog registration leaves out ("path: reason", Athena's
    # naming rules: control_plane/domain/catalog_schema.py); they stay in the files.
    catalog_skipped_columns: list[str] = field(default_factory=list)
    undated_files: list[str] = field(default_factory=list)  # keys without a date folder ...
    undated_partition: str | None = None  # ... and the partition (the upload day) they landed in

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def busy_seconds(intervals: Iterable[tuple[float, float | None]], start: float, end: float) -> float:
    """Seconds of the window [start, end] during which at least one interval ran (an interval without an end runs
    until `end`): a part of the window, never more than it, however the intervals overlap or stick out of it."""
    clipped = sorted(
        (max(begin, start), min(end if finish is None else finish, end)) for begin, finish in intervals
    )
    total, covered_to = 0.0, start
    for begin, finish in clipped:
        begin = max(begin, covered_to)
        if finish > begin:
            total += finish - begin
            covered_to = finish
    return total


def write_run_info(summary: RunSummary, layout: WorkLayout) -> None:
    info = {
        "table_name": summary.table_name,
        "lake": str(layout.lake),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "summary": summary.as_dict(),
    }
    (layout.root / RUN_INFO_FILE).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    (layout.logs / "summary.json").write_text(
        json.dumps(summary.as_dict(), indent=2, default=str), encoding="utf-8"
    )
