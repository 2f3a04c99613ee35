"""`pipeline status`: what the pipeline holds and what is stuck, per date, plus queues and failed executions.

Reads only: one paginated query per date asked about, `Limit 1` queries on the pending index, queue attributes,
and `ListExecutions` / `DescribeExecution` for the most recent failed executions. The health indicators and their
thresholds are the ones docs/runbook.md documents.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.contracts.report import CONTRACT_COUNTS, MANIFEST_COUNTS, SNAPSHOT_FIELD
from pipeline.ops.errors import InvalidDate
from pipeline.ops.redrive import queue_depth
from pipeline.ops.table_reads import age_seconds, oldest_pending, pending_dates, read_date, recent_dates

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FILE_STATUSES = ("pending", "manifested", "completed", "failed")
MANIFEST_STATUSES = ("pending", "processing", "completed", "failed")
LEVELS = ("healthy", "warning", "critical")


def check_date(text: str) -> str:
    if not _DATE.fullmatch(text):
        raise InvalidDate(f"The date {text!r} is not YYYY-MM-DD.")
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise InvalidDate(f"The date {text!r} does not exist in the calendar.") from None
    return text


@dataclass
class Thresholds:
    """Warning / critical limits of the health indicators (docs/runbook.md, "Health indicators")."""

    max_batch_wait_seconds: int = 300
    grace_seconds: int = 960
    processing_warning_seconds: int = 3600
    processing_critical_seconds: int = 3 * 3600
    dlq_critical: int = 10


@dataclass
class Indicator:
    name: str
    value: float | int | None
    level: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "level": self.level, "detail": self.detail}


@dataclass
class DateStatus:
    date_prefix: str
    files: dict[str, int]
    bytes: dict[str, int]
    manifests: list[dict[str, Any]]
    manifests_by_status: dict[str, int]
    stuck_manifested: list[dict[str, Any]]
    open_claims: list[dict[str, Any]]
    replays: list[dict[str, Any]]
    totals: dict[str, int]

    @property
    def file_count(self) -> int:
        return sum(self.files.values())

    @property
    def complete(self) -> bool:
        """Every tracked file converted, and no manifest of the date unfinished or failed."""
        live = [m for m in self.manifests if not m.get("superseded_by")]
        return (
            self.file_count > 0
            and self.files.get("completed", 0) == self.file_count
            and all(m["status"] == "completed" for m in live)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date_prefix,
            "complete": self.complete,
            "files": self.files,
            "bytes": self.bytes,
            "manifests_by_status": self.manifests_by_status,
            "totals": self.totals,
            "manifests": self.manifests,
            "stuck_manifested": self.stuck_manifested,
            "open_claims": self.open_claims,
            "replays": self.replays,
        }


@dataclass
class StatusReport:
    generated_at: str
    dates: list[DateStatus]
    oldest_pending: dict[str, Any] | None
    dlq: dict[str, Any] | None
    ingest_queue: dict[str, Any] | None
    failed_executions: list[dict[str, Any]]
    indicators: list[Indicator] = field(default_factory=list)

    @property
    def level(self) -> str:
        worst = max((LEVELS.index(i.level) for i in self.indicators), default=0)
        return LEVELS[worst]

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "health": self.level,
            "indicators": [i.as_dict() for i in self.indicators],
            "oldest_pending": self.oldest_pending,
            "dlq": self.dlq,
            "ingest_queue": self.ingest_queue,
            "failed_executions": self.failed_executions,
            "dates": [d.as_dict() for d in self.dates],
        }


def _manifest_view(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = {
        "manifest_id": item.get("manifest_id") or str(item["file_key"]).split("#", 1)[1],
        "status": item.get("status", "unknown"),
        "file_count": item.get("file_count"),
        "total_bytes": item.get("total_bytes"),
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
        "completed_at": item.get("completed_at"),
        "age_seconds": age_seconds(item.get("created_at"), now),
        "since_update_seconds": age_seconds(item.get("updated_at"), now),
        "execution_arn": item.get("execution_arn"),
        "manifest_path": item.get("manifest_path"),
        "attempts": int(item.get("attempts", 1) or 1),
        "error": item.get("error"),
        "job_error": item.get("job_error"),
        "cause": item.get("cause"),
        "superseded_by": item.get("superseded_by"),
    }
    for name in (*MANIFEST_COUNTS, SNAPSHOT_FIELD):
        if name in item:
            view[name] = item[name]
    return view


def contract_rows(report: StatusReport) -> list[dict[str, Any]]:
    """Per completed batch: what the schema contract did (columns added, values converted, records quarantined)
    and the snapshot that made it visible; batches the contract did nothing to and that have no snapshot are left
    out."""
    rows = []
    for day in report.dates:
        for m in day.manifests:
            if m.get("superseded_by") or m["status"] != "completed":
                continue
            counts = {name: int(m.get(name, 0) or 0) for name in CONTRACT_COUNTS}
            if any(counts.values()) or m.get(SNAPSHOT_FIELD) is not None:
                rows.append(
                    {
                        "date": day.date_prefix,
                        "manifest_id": m["manifest_id"],
                        **counts,
                        SNAPSHOT_FIELD: m.get(SNAPSHOT_FIELD),
                    }
                )
    return rows


def summarize_date(ddb: Any, table: str, date_prefix: str, grace_seconds: int, now: datetime) -> DateStatus:
    items = read_date(ddb, table, date_prefix)
    files: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    stuck = []
    for item in items.files:
        status = str(item.get("status", "unknown"))
        files[status] += 1
        sizes[status] += int(item.get("size", 0) or 0)
        if status == "manifested":
            waited = age_seconds(item.get("claimed_at") or item.get("updated_at"), now)
            if waited is not None and waited > grace_seconds:
                stuck.append(
                    {
                        "bucket": item.get("bucket"),
                        "key": item.get("key"),
                        "manifest_id": item.get("manifest_id"),
                        "manifested_seconds": round(waited),
                    }
                )
    manifests = sorted(
        (_manifest_view(m, now) for m in items.manifests), key=lambda m: str(m.get("created_at") or "")
    )
    live = [m for m in manifests if not m.get("superseded_by")]
    totals = {
        name: sum(int(m.get(name, 0) or 0) for m in live if m["status"] == "completed")
        for name in MANIFEST_COUNTS
    }
    claims = [
        {
            "manifest_id": c.get("manifest_id"),
            "claimed_at": c.get("claimed_at"),
            "age_seconds": age_seconds(c.get("claimed_at"), now),
        }
        for c in items.claims
        if c.get("claim_open")
    ]
    replays = [{k: v for k, v in r.items() if k not in ("date_prefix", "ttl")} for r in items.replays]
    return DateStatus(
        date_prefix=date_prefix,
        files={status: files.get(status, 0) for status in FILE_STATUSES}
        | {s: n for s, n in files.items() if s not in FILE_STATUSES},
        bytes={status: sizes.get(status, 0) for status in FILE_STATUSES},
        manifests=manifests,
        manifests_by_status={s: sum(1 for m in live if m["status"] == s) for s in MANIFEST_STATUSES},
        stuck_manifested=stuck,
        open_claims=claims,
        replays=replays,
        totals=totals,
    )


def _execution_error(sfn: Any, arn: str) -> tuple[str | None, str | None]:
    described = sfn.describe_execution(executionArn=arn)
    error, cause = described.get("error"), described.get("cause")
    if error or cause:
        return error, cause
    try:
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=10)["events"]
    except Exception:  # history is a nicety: the list of failures stands without it
        return None, None
    for event in events:
        for key in (
            "executionFailedEventDetails",
            "executionTimedOutEventDetails",
            "executionAbortedEventDetails",
        ):
            details = event.get(key)
            if details:
                return details.get("error"), details.get("cause")
    return None, None


def failed_executions(sfn: Any, state_machine_arn: str, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        response = sfn.list_executions(
            stateMachineArn=state_machine_arn, statusFilter=status, maxResults=limit
        )
        for execution in response.get("executions", []):
            stopped = execution.get("stopDate")
            found.append(
                {
                    "name": execution["name"],
                    "execution_arn": execution["executionArn"],
                    "status": status,
                    "stopped_at": stopped.astimezone(UTC).isoformat()
                    if isinstance(stopped, datetime)
                    else stopped,
                }
            )
    found.sort(key=lambda e: str(e.get("stopped_at") or ""), reverse=True)
    found = found[:limit]
    for execution in found:
        execution["error"], cause = _execution_error(sfn, execution["execution_arn"])
        execution["cause"] = cause[:500] if isinstance(cause, str) else cause
    return found


def _queue_view(sqs: Any, url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    visible, in_flight = queue_depth(sqs, url)
    return {"url": url, "visible": visible, "in_flight": in_flight}


def _level(value: float, warning: float, critical: float) -> str:
    if value >= critical:
        return "critical"
    if value >= warning:
        return "warning"
    return "healthy"


def evaluate(report: StatusReport, limits: Thresholds, now: datetime) -> list[Indicator]:
    """The health indicators (thresholds documented in docs/runbook.md)."""
    indicators: list[Indicator] = []
    if report.dlq is not None:
        depth = report.dlq["visible"] + report.dlq["in_flight"]
        indicators.append(
            Indicator(
                "dlq_depth",
                depth,
                _level(depth, 1, limits.dlq_critical),
                "messages in the dead-letter queue (0 is healthy)",
            )
        )
    if report.oldest_pending is not None:
        waited = age_seconds(report.oldest_pending.get("created_at"), now) or 0.0
        wait = max(limits.max_batch_wait_seconds, 1)
        indicators.append(
            Indicator(
                "oldest_pending_seconds",
                round(waited),
                _level(waited, 2 * wait + 120, 6 * wait + 600),
                "age of the oldest pending file (the flush should take it within "
                "MAX_BATCH_WAIT_SECONDS plus one schedule period)",
            )
        )
    else:
        indicators.append(Indicator("oldest_pending_seconds", 0, "healthy", "no pending file"))
    stuck = sum(len(d.stuck_manifested) for d in report.dates)
    indicators.append(
        Indicator(
            "stuck_manifested_files",
            stuck,
            _level(stuck, 1, 1),
            "files manifested longer than the repair grace period",
        )
    )
    claims = sum(
        1 for d in report.dates for c in d.open_claims if (c.get("age_seconds") or 0) > limits.grace_seconds
    )
    indicators.append(
        Indicator(
            "open_claims_past_grace",
            claims,
            _level(claims, 1, 1),
            "claims the scheduled flush should already have repaired",
        )
    )
    failed = sum(d.manifests_by_status.get("failed", 0) for d in report.dates)
    indicators.append(
        Indicator(
            "failed_manifests",
            failed,
            _level(failed, 1, 5),
            "failed manifests in the dates shown (retry them)",
        )
    )
    running = [
        m
        for d in report.dates
        for m in d.manifests
        if m["status"] in ("pending", "processing") and not m.get("superseded_by")
    ]
    longest = max((m.get("age_seconds") or 0 for m in running), default=0)
    indicators.append(
        Indicator(
            "longest_running_manifest_seconds",
            round(longest),
            _level(longest, limits.processing_warning_seconds, limits.processing_critical_seconds),
            "age of the oldest manifest not yet completed or failed",
        )
    )
    return indicators


def collect(
    ddb: Any,
    table: str,
    *,
    dates: list[str] | None = None,
    days: int = 3,
    pending_shards: int = 4,
    sqs: Any | None = None,
    dlq_url: str | None = None,
    queue_url: str | None = None,
    sfn: Any | None = None,
    state_machine_arn: str | None = None,
    executions_limit: int = 10,
    limits: Thresholds | None = None,
    now: datetime | None = None,
) -> StatusReport:
    """Build the status report. Without `dates`: the last `days` UTC days plus every date with pending files."""
    limits = limits or Thresholds()
    moment = now or datetime.now(UTC)
    if dates:
        chosen = sorted({check_date(d) for d in dates})
    else:
        chosen = sorted(set(recent_dates(days, moment)) | set(pending_dates(ddb, table, pending_shards)))
    summaries = [summarize_date(ddb, table, d, limits.grace_seconds, moment) for d in chosen]
    summaries = [s for s in summaries if s.file_count or s.manifests or s.open_claims or dates]
    oldest = oldest_pending(ddb, table, pending_shards)
    oldest_view = None
    if oldest is not None:
        oldest_view = {
            "date": oldest.get("date_prefix"),
            "bucket": oldest.get("bucket"),
            "key": oldest.get("key"),
            "created_at": oldest.get("created_at"),
            "age_seconds": round(age_seconds(oldest.get("created_at"), moment) or 0),
        }
    report = StatusReport(
        generated_at=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        dates=summaries,
        oldest_pending=oldest_view,
        dlq=_queue_view(sqs, dlq_url) if sqs is not None else None,
        ingest_queue=_queue_view(sqs, queue_url) if sqs is not None else None,
        failed_executions=failed_executions(sfn, state_machine_arn, executions_limit)
        if sfn is not None and state_machine_arn
        else [],
    )
    report.indicators = evaluate(report, limits, moment)
    return report


# ------------------------------------------------------------------------------------------ status --watch


@dataclass
class WatchFrame:
    """One refresh of `pipeline status --watch`: the flow per date and the freshness."""

    refresh: int
    refreshed_at: str
    interval_seconds: float
    freshness_seconds: float
    health: str
    rows: list[dict[str, Any]]
    totals: dict[str, int]
    oldest_pending: dict[str, Any] | None
    dlq_depth: int | None


WATCH_COLUMNS = ("pending", "processing", "completed", "failed", "manifests running")


def watch_frame(report: StatusReport, freshness_seconds: float, refresh: int, interval: float) -> WatchFrame:
    """Per date: files pending (waiting for a batch), processing (in a started batch: `manifested`), completed,
    failed, and the batches not finished; `freshness_seconds` is the OldestPendingAgeSeconds value
    (`pending_freshness`)."""
    rows: list[dict[str, Any]] = []
    for day in report.dates:
        running = sum(day.manifests_by_status.get(s, 0) for s in ("pending", "processing"))
        rows.append(
            {
                "date": day.date_prefix,
                "pending": day.files.get("pending", 0),
                "processing": day.files.get("manifested", 0),
                "completed": day.files.get("completed", 0),
                "failed": day.files.get("failed", 0),
                "manifests running": running,
            }
        )
    totals = {name: sum(int(r[name]) for r in rows) for name in WATCH_COLUMNS}
    dlq = report.dlq["visible"] + report.dlq["in_flight"] if report.dlq is not None else None
    return WatchFrame(
        refresh=refresh,
        refreshed_at=report.generated_at,
        interval_seconds=interval,
        freshness_seconds=round(freshness_seconds, 1),
        health=report.level,
        rows=rows,
        totals=totals,
        oldest_pending=report.oldest_pending,
        dlq_depth=dlq,
    )
