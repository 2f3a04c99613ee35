"""Iceberg table maintenance: compact small files, expire old snapshots, remove orphan files.

Run by the job with `--MODE maintain` (the driver alone: no Spark) and by `pipeline maintain` in-process:

- `compact`: per partition, the live data files smaller than half the target (at least 2 of them) are read
  (pyiceberg's pyarrow reader: name mapping, promotions and columns added since are applied) and rewritten into
  files of about the target size under `<location>/data/dt=D/compact-<ts>-<n>.parquet`; ONE commit then removes
  exactly those files and adds the new ones (`iceberg.replace_files`, summary `pipeline-operation` = `compact`).
  An append committed meanwhile (in the same partition too) is kept: the commit is rebuilt on the refreshed table,
  and a file removed meanwhile by another rewrite fails it (nothing is lost; the written files are deleted).
- `expire`: snapshots older than the retention window go (the current snapshot always stays).
- `remove_orphans`: files under `<location>/data/` and `<location>/metadata/` that no kept snapshot, manifest
  list, manifest, metadata-log entry or the current metadata references, and that are older than the safety
  window (a run that is writing and has not committed yet stays safe). Other folders of the location (`_catalog/`,
  `_reports/`, `_bad_records/`, ...) are never looked at.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs

from .args import JobArgs
from .constants import PARTITION_COLUMN
from .errors import JobError
from .iceberg import (
    DATA_DIR,
    SUMMARY_OPERATION,
    SUMMARY_RUN,
    TABLE_PROPERTIES,
    TableRef,
    data_files_of,
    data_schema,
    file_schema,
    load_table,
    open_catalog,
    replace_files,
    with_field_ids,
)
from .parquet import RollingParquetWriter, row_group_rows
from .storage import Storage, join, normalise

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

logger = logging.getLogger(__name__)

COMPACT_OPERATION = "compact"
SUMMARY_COMPACTION = "compaction-id"
METADATA_DIR = "metadata"
SWEPT_DIRS = (DATA_DIR, METADATA_DIR)  # the only folders of the location orphan removal looks into
PROTECTED_DIRS = ("_catalog", "_reports", "_bad_records")  # never touched, whatever the layout
READ_BATCH_FILES = 32  # small files read per pyarrow call while compacting


# ------------------------------------------------------------------------------------------ compaction


@dataclass
class PartitionReport:
    date: str
    files_before: int = 0
    bytes_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    files_compacted: int = 0
    files_written: int = 0
    rows_rewritten: int = 0
    orphans_removed: int = 0
    orphan_bytes_removed: int = 0


@dataclass
class CompactionPlan:
    """Which files of which partition get rewritten, decided on one snapshot of the table."""

    snapshot_id: int | None
    target_bytes: int
    candidates: dict[str, list[DataFile]]  # date -> the small files to rewrite (at least 2)
    partitions: dict[str, PartitionReport]  # every partition looked at, with its "before" numbers

    @property
    def files(self) -> list[DataFile]:
        return [data_file for files in self.candidates.values() for data_file in files]


def _partition_of(data_file: DataFile) -> str:
    return str(data_file.partition[0])


ISOLATION_PROPERTIES = {k: v for k, v in TABLE_PROPERTIES.items() if k.endswith(".isolation-level")}


METADATA_COMMIT_ATTEMPTS = 6


def _metadata_commit(table: Table, what: str, change: Callable[[Table], bool]) -> None:
    """Commit a metadata-only change (`change` returns False when there is nothing to do), retried on a fresh
    table when a concurrent commit (a new batch) got in first: pyiceberg retries only snapshot-producing commits."""
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(1, METADATA_COMMIT_ATTEMPTS + 1):
        table.refresh()  # decide on the newest metadata (a batch committed since the handle was loaded)
        try:
            if not change(table):
                return
            table.refresh()
            return
        except CommitFailedException as exc:
            if attempt == METADATA_COMMIT_ATTEMPTS:
                raise JobError(
                    "MaintenanceCommitFailed",
                    f"{what} lost {attempt} races with concurrent commits ({exc}); run maintenance again",
                ) from exc
            logger.warning("%s: concurrent commit (%s), retrying (%d)", what, exc, attempt)
            time.sleep(min(0.1 * 2**attempt, 3.0))


def ensure_snapshot_isolation(table: Table) -> None:
    """Tables created before the isolation properties existed get them (one property commit, once)."""

    def change(current: Table) -> bool:
        missing = {k: v for k, v in ISOLATION_PROPERTIES.items() if current.properties.get(k) != v}
        if missing:
            with current.transaction() as transaction:
                transaction.set_properties(missing)
        return bool(missing)

    _metadata_commit(table, "setting the isolation properties", change)


def plan_compaction(table: Table, date_prefix: str | None, target_bytes: int) -> CompactionPlan:
    """The live files smaller than target/2, per partition, where there are at least 2 of them."""
    current = table.current_snapshot()
    partitions: dict[str, PartitionReport] = {}
    small: dict[str, list[DataFile]] = {}
    for data_file in data_files_of(table, date_prefix):
        date = _partition_of(data_file)
        report = partitions.setdefault(date, PartitionReport(date))
        report.files_before += 1
        report.bytes_before += data_file.file_size_in_bytes
        if data_file.file_size_in_bytes < target_bytes / 2:
            small.setdefault(date, []).append(data_file)
    candidates = {date: files for date, files in sorted(small.items()) if len(files) >= 2}
    return CompactionPlan(
        current.snapshot_id if current else None, target_bytes, candidates, dict(sorted(partitions.items()))
    )


def _read(table: Table, files: list[DataFile], schema: pa.Schema) -> pa.Table:
    """The rows of `files` as the table's current schema sees them, in the file layout `schema`."""
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan
    from pyiceberg.table import FileScanTask

    scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    rows = scan.to_table([FileScanTask(data_file) for data_file in files])
    return rows.select(schema.names).cast(schema)


def rewrite_partition(
    table: Table,
    storage: Storage,
    date: str,
    files: list[DataFile],
    target_bytes: int,
    codec: str,
    stamp: str,
    level: int | None = None,
) -> tuple[list[str], int]:
    """Write the rows of `files` into files of about `target_bytes`; (their paths, rows written)."""
    schema = with_field_ids(file_schema(data_schema(table)), table.schema())  # read by id, as the job writes
    out_dir = join(table.location(), DATA_DIR, f"{PARTITION_COLUMN}={date}")
    rows = sum(f.record_count for f in files)
    size = sum(f.file_size_in_bytes for f in files)
    writer = RollingParquetWriter(
        storage=storage,
        out_dir=out_dir,
        name_prefix=f"{COMPACT_OPERATION}-{stamp}",
        schema=schema,
        codec=codec,
        target_bytes=target_bytes,
        group_rows=row_group_rows(rows, size, target_bytes),
        level=level,
    )
    written = 0
    try:
        for start in range(0, len(files), READ_BATCH_FILES):
            part = _read(table, files[start : start + READ_BATCH_FILES], schema)
            written += part.num_rows
            writer.add(part)
        staged = writer.finish()
    except BaseException:
        _delete_quietly(storage, [f.staged for f in writer.files])
        raise
    if written != rows:
        _delete_quietly(storage, [f.staged for f in staged])
        raise JobError(
            "CompactionFailed",
            f"partition {date}: read {written} rows from {len(files)} files whose metadata counts {rows}; "
            "nothing was committed",
        )
    return [f.staged for f in staged], written


def _delete_quietly(storage: Storage, paths: list[str]) -> None:
    for path in paths:
        try:
            storage.delete(path)
        except Exception as exc:  # best effort: orphan removal deletes what is left, after the safety window
            logger.warning("could not delete %s: %s", path, exc)


def commit_compaction(
    table: Table, storage: Storage, plan: CompactionPlan, paths: list[str], stamp: str, run_id: str | None
) -> int | None:
    """ONE commit that removes exactly the plan's files and adds `paths`; the new snapshot id.

    A concurrent append is kept (pyiceberg rebuilds the commit on the refreshed table); a planned file that is
    gone meanwhile (another compaction, a replay of the date) fails it: CompactionConflict, the new files are
    deleted and nothing changed. An unknown outcome is resolved by looking for this compaction's id."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    properties = {SUMMARY_OPERATION: COMPACT_OPERATION, SUMMARY_COMPACTION: stamp}
    if run_id:
        properties[SUMMARY_RUN] = run_id
    try:
        return replace_files(table, plan.files, paths, properties).snapshot_id
    except (CommitFailedException, ValidationException) as exc:
        _delete_quietly(storage, paths)
        raise JobError(
            "CompactionConflict",
            f"the compaction of {len(plan.files)} files could not be committed ({exc}); the table is "
            "unchanged, run maintenance again",
        ) from exc
    except Exception:
        refreshed = table.refresh()
        for snapshot in refreshed.metadata.snapshots:
            summary = snapshot.summary.additional_properties if snapshot.summary else {}
            if summary.get(SUMMARY_COMPACTION) == stamp:
                return snapshot.snapshot_id
        raise


@dataclass
class CompactionResult:
    snapshot_id: int | None
    partitions: dict[str, PartitionReport]
    files_compacted: int
    files_written: int
    seconds: float


def compact(
    table: Table,
    storage: Storage,
    date_prefix: str | None,
    target_bytes: int,
    codec: str = "zstd",
    *,
    run_id: str | None = None,
    before_commit: Callable[[CompactionPlan], None] | None = None,
    level: int | None = None,
) -> CompactionResult:
    """Compact every partition (or one date) whose small files are worth it, in ONE atomic commit.

    `before_commit` runs between the rewrite and the commit (tests use it to commit a concurrent append)."""
    started = time.monotonic()
    ensure_snapshot_isolation(table)
    plan = plan_compaction(table, date_prefix, target_bytes)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    paths: list[str] = []
    try:
        for date, files in plan.candidates.items():
            written, rows = rewrite_partition(table, storage, date, files, target_bytes, codec, stamp, level)
            paths.extend(written)
            report = plan.partitions[date]
            report.files_compacted, report.files_written, report.rows_rewritten = (
                len(files),
                len(written),
                rows,
            )
    except BaseException:
        _delete_quietly(storage, paths)
        raise
    snapshot_id = None
    if plan.candidates:
        if before_commit is not None:
            before_commit(plan)
        snapshot_id = commit_compaction(table, storage, plan, paths, stamp, run_id)
        table.refresh()
    for data_file in data_files_of(table, date_prefix):
        report = plan.partitions.setdefault(
            _partition_of(data_file), PartitionReport(_partition_of(data_file))
        )
        report.files_after += 1
        report.bytes_after += data_file.file_size_in_bytes
    return CompactionResult(
        snapshot_id,
        plan.partitions,
        sum(r.files_compacted for r in plan.partitions.values()),
        sum(r.files_written for r in plan.partitions.values()),
        round(time.monotonic() - started, 3),
    )


# ------------------------------------------------------------------------------------------ expiry


@dataclass
class ExpiryResult:
    snapshots_before: int
    snapshots_expired: int
    older_than: str
    seconds: float


def expire(table: Table, older_than: dt.datetime) -> ExpiryResult:
    """Expire the snapshots older than `older_than` (the current snapshot and branch/tag heads always stay).
    Only metadata changes: the files they alone referenced become orphans for `remove_orphans`."""
    started = time.monotonic()
    cutoff_ms = int(older_than.timestamp() * 1000)
    before = len(table.metadata.snapshots)
    expired: list[int] = []

    def change(current_table: Table) -> bool:
        current = current_table.current_snapshot()
        doomed = [
            s.snapshot_id
            for s in current_table.metadata.snapshots
            if s.timestamp_ms < cutoff_ms and (current is None or s.snapshot_id != current.snapshot_id)
        ]
        if doomed:
            current_table.maintenance.expire_snapshots().by_ids(doomed).commit()
        expired[:] = doomed
        return bool(doomed)

    _metadata_commit(table, "snapshot expiry", change)
    return ExpiryResult(before, len(expired), older_than.isoformat(), round(time.monotonic() - started, 3))


# ------------------------------------------------------------------------------------------ orphans


def _canonical(path: str) -> str:
    """One spelling per file: s3://bucket/key, or an absolute local path (file:// URIs unwrapped)."""
    if path.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(path).path)
    return normalise(path)


def referenced_files(table: Table) -> set[str]:
    """Every file a kept snapshot or the metadata still needs: the live data files of every kept snapshot (a file
    a kept snapshot deleted is needed only while its parent is kept, and then the parent lists it as live),
    manifests, manifest lists, statistics, the metadata log, the current metadata file."""
    refs: set[str] = {_canonical(table.metadata_location)}
    refs.update(_canonical(entry.metadata_file) for entry in table.metadata.metadata_log)
    for stats in [*table.metadata.statistics, *table.metadata.partition_statistics]:
        refs.add(_canonical(stats.statistics_path))
    seen_manifests: set[str] = set()
    for snapshot in table.metadata.snapshots:
        refs.add(_canonical(snapshot.manifest_list))
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            refs.add(_canonical(manifest.manifest_path))
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                refs.add(_canonical(entry.data_file.file_path))
    return refs


@dataclass
class Listed:
    path: str
    size: int
    mtime: dt.datetime | None


def list_table_files(storage: Storage, location: str) -> list[Listed]:
    """The files under `<location>/data/` and `<location>/metadata/` (never any other folder)."""
    found: list[Listed] = []
    for folder in SWEPT_DIRS:
        where = join(location, folder)
        filesystem, path = storage.fs(where)
        prefix = "s3://" if where.startswith("s3://") else ""
        infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            mtime = info.mtime
            if mtime is not None and mtime.tzinfo is None:
                mtime = mtime.replace(tzinfo=dt.UTC)
            found.append(Listed(prefix + info.path, int(info.size or 0), mtime))
    return found


@dataclass
class OrphanResult:
    files_listed: int
    orphans_found: int
    orphans_removed: int
    bytes_removed: int
    kept_too_young: int
    older_than: str
    removed: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    seconds: float = 0.0


def _protected(location: str, path: str) -> bool:
    relative = path[len(location.rstrip("/")) + 1 :] if path.startswith(location.rstrip("/") + "/") else ""
    top = relative.split("/", 1)[0]
    return not relative or top in PROTECTED_DIRS or top not in SWEPT_DIRS


def remove_orphans(
    table: Table, storage: Storage, older_than: dt.datetime, *, dry_run: bool = False
) -> OrphanResult:
    """Delete the table's files no kept snapshot references, last modified before `older_than`.

    The listing comes first, the references second (from a refreshed table): a file committed in between is
    referenced, and a file written after the listing is not looked at."""
    started = time.monotonic()
    location = _canonical(table.location())
    listed = list_table_files(storage, location)
    refs = referenced_files(table.refresh())
    orphans = [f for f in listed if _canonical(f.path) not in refs and not _protected(location, f.path)]
    old = [f for f in orphans if f.mtime is not None and f.mtime < older_than]
    removed: list[tuple[str, int]] = []
    removed_bytes = 0
    for orphan in old:
        if not dry_run:
            try:
                storage.delete(orphan.path)
            except FileNotFoundError:
                continue
        removed.append((orphan.path, orphan.size))
        removed_bytes += orphan.size
    return OrphanResult(
        len(listed),
        len(orphans),
        len(removed),
        removed_bytes,
        len(orphans) - len(old),
        older_than.isoformat(),
        removed,
        round(time.monotonic() - started, 3),
    )


# ------------------------------------------------------------------------------------------ one run


def _date_of(location: str, path: str) -> str | None:
    marker = f"/{DATA_DIR}/{PARTITION_COLUMN}="
    relative = path[len(location.rstrip("/")) :]
    if not relative.startswith(marker):
        return None
    return relative[len(marker) :].split("/", 1)[0]


def maintain(
    table: Table,
    storage: Storage,
    *,
    date_prefix: str | None,
    target_bytes: int,
    codec: str,
    level: int | None = None,
    retention_hours: int,
    orphan_age_hours: int,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Compact, expire, remove orphans (in that order: the compacted files stay referenced by the snapshots of
    the retention window, so readers of recent snapshots keep working); the report as a dict."""
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC)
    compaction = compact(table, storage, date_prefix, target_bytes, codec, run_id=run_id, level=level)
    expiry = expire(table, now - dt.timedelta(hours=retention_hours))
    orphans = remove_orphans(table, storage, now - dt.timedelta(hours=orphan_age_hours))
    location = _canonical(table.location())
    partitions = compaction.partitions
    for path, size in orphans.removed:
        date = _date_of(location, _canonical(path))
        if date is not None and (date_prefix is None or date == date_prefix):
            report = partitions.setdefault(date, PartitionReport(date))
            report.orphans_removed += 1
            report.orphan_bytes_removed += size
    return {
        "mode": "maintain",
        "table_location": table.location(),
        "date_prefix": date_prefix,
        "target_file_bytes": target_bytes,
        "compaction": {
            "snapshot_id": compaction.snapshot_id,
            "files_compacted": compaction.files_compacted,
            "files_written": compaction.files_written,
            "seconds": compaction.seconds,
        },
        "partitions": [asdict(r) for r in sorted(partitions.values(), key=lambda r: r.date)],
        "snapshots": asdict(expiry),
        "orphans": {k: v for k, v in asdict(orphans).items() if k != "removed"}
        | {"removed": [path for path, _ in orphans.removed[:1000]]},
        "current_snapshot_id": (s.snapshot_id if (s := table.current_snapshot()) else None),
        "metadata_location": table.metadata_location,
        "seconds": round(time.monotonic() - started, 3),
    }


def run_maintenance(args: JobArgs) -> dict[str, Any]:
    """`--MODE maintain`: maintain the job's Iceberg table; the report also goes to
    `<OUTPUT_PATH>/_reports/maintenance-<timestamp>.json`."""
    if not args.iceberg:
        raise JobError(
            "MaintenanceUnsupported",
            f"--MODE maintain works on Iceberg tables; --TABLE_FORMAT is '{args.table_format}' (plain Parquet "
            "files have no snapshots to expire or compact atomically): use --TABLE_FORMAT iceberg",
        )
    storage = Storage.from_env()
    ref = TableRef.of(args)
    table = load_table(open_catalog(ref), ref)
    if table is None:
        raise JobError(
            "TableNotFound",
            f"there is no table {ref.shown} to maintain yet: it is created by the first converted manifest",
        )
    started_at = dt.datetime.now(dt.UTC)
    report = maintain(
        table,
        storage,
        date_prefix=args.maintain_date,
        target_bytes=args.target_file_mb * 1024 * 1024,
        codec=args.compression,
        level=args.compression_level,
        retention_hours=args.snapshot_retention_hours,
        orphan_age_hours=args.orphan_age_hours,
        run_id=args.job_run_id,
        now=started_at,
    )
    report = {"job_name": args.job_name, "job_run_id": args.job_run_id, "table": ref.shown, **report}
    report["started_at"] = started_at.isoformat()
    location = join(
        normalise(args.output_path), "_reports", f"maintenance-{started_at:%Y%m%dT%H%M%S%fZ}.json"
    )
    storage.write_bytes(location, json.dumps(report, indent=2, default=str).encode())
    report["report_path"] = location
    return report
