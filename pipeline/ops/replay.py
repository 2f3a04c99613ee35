"""`pipeline replay --date D`: reprocess a date from its raw files under new manifests, then swap the output.

Why not just re-run the date's manifests? Each Glue run writes `OUTPUT/dt=D/<manifest_id>.part-*.parquet` and
replaces exactly the files of *its* manifest. New manifests (new ids: a new batching, a fixed job, a new schema)
would add their files next to the old ones: every record twice until the old files go. And the output location
is fixed in the state machine, so new runs cannot write elsewhere. Hence this sequence, recorded step by step in a
`REPLAY#<replay_id>` item of the date (so an interrupted replay resumes where it stopped: run the command again):

1. **check**: no file of D pending or manifested, no manifest of D pending or processing, no open claim
   (`DateBusy` otherwise: wait, or reconcile first);
2. **snapshot**: copy the date's output files and quarantine to `OUTPUT/_replays/<id>/dt=D/` and
   `BAD/_replays/<id>/dt=D/`; point the Glue catalog partition `dt=D` at the snapshot (one atomic catalog update:
   Athena and Spark keep reading the old data, unchanged, for the whole replay); then delete the originals that
   were copied (only those: nothing another manifest writes meanwhile is touched);
3. **reset**: the old MANIFEST items get `superseded_by = <id>` (kept for history, left out of totals), and every
   file of D goes `completed|failed -> pending` (conditional) with its original tracking time, so it is due at
   once, and `replay_id = <id>`; the date's pending counter gets them back;
4. **run**: the control plane's own batching (`start_due_batches`, as the scheduled flush) starts the new
   manifests; the Glue job converts them into `dt=D/` under their new ids; the scheduled flush may start some too;
5. **swap**: when every file of the replay is `completed` under a new manifest, the catalog partition is pointed
   back at `OUTPUT/dt=D/` (atomic: readers switch from the complete old data to the complete new data), and the
   snapshot is deleted (unless kept).

A failed new manifest stops at step 4 (`ReplayIncomplete`): `pipeline retry <id>`, then run the replay again.
Readers of the catalog never see a mix; readers of raw paths (`pipeline query`, DuckDB over S3) see the date
shrink at step 2 and fill up during step 4: point them at the catalog, or at the snapshot, during a replay.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.contracts.manifest import split_s3_url
from pipeline.control_plane.adapters import catalog
from pipeline.control_plane.domain.states import FileStatus, ManifestStatus
from pipeline.control_plane.domain.times import expires_at, iso_now, utc_now
from pipeline.ops import replay_iceberg
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import DateBusy, ReplayFailed
from pipeline.ops.table_reads import STORED_STATUS, DateItems, read_date

Progress = Callable[[str, int, int], None]  # (stage, done, total)

STEPS = ("snapshot", "reset", "running", "completed")


class ReplayIncomplete(ReplayFailed):
    error_name = "ReplayIncomplete"


@dataclass
class ReplayResult:
    replay_id: str
    date_prefix: str
    status: str
    resumed: bool = False
    files: int = 0
    completed_files: int = 0
    old_manifests: list[str] = field(default_factory=list)  # up to 1,000 ids (see old_manifest_count)
    old_manifest_count: int = 0
    new_manifests: list[str] = field(default_factory=list)
    failed_manifests: list[str] = field(default_factory=list)
    snapshot_objects: int = 0
    catalog_swapped: bool = False
    table_format: str = "parquet"
    before_snapshot_id: int | None = None  # iceberg: S0, the snapshot to time-travel to for the old data
    swap_snapshot_id: int | None = None  # iceberg: the overwrite commit
    replaced_files: int = 0  # iceberg: files of the date the swap removes from main

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _s3_join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)]) + "/"


@dataclass
class Locations:
    """Where one date's output, quarantine and snapshot live, plus local mirrors (the embedded lake)."""

    output_path: str
    bad_records_path: str | None
    date_prefix: str
    replay_id: str
    mirrors: dict[str, Path] = field(default_factory=dict)  # s3 root -> local folder mirroring it

    @property
    def partition(self) -> str:
        return _s3_join(self.output_path, f"dt={self.date_prefix}")

    @property
    def snapshot(self) -> str:
        return _s3_join(self.output_path, "_replays", self.replay_id, f"dt={self.date_prefix}")

    @property
    def quarantine(self) -> str | None:
        return _s3_join(self.bad_records_path, f"dt={self.date_prefix}") if self.bad_records_path else None

    @property
    def quarantine_snapshot(self) -> str | None:
        if not self.bad_records_path:
            return None
        return _s3_join(self.bad_records_path, "_replays", self.replay_id, f"dt={self.date_prefix}")


class Objects:
    """The few S3 operations a replay needs, applied to the local mirrors too."""

    def __init__(self, s3: Any, mirrors: dict[str, Path]) -> None:
        self.s3 = s3
        self.mirrors = {root.rstrip("/") + "/": path for root, path in mirrors.items()}

    def keys_under(self, prefix_url: str) -> list[str]:
        bucket, prefix = split_s3_url(prefix_url)
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(str(o["Key"]) for o in page.get("Contents", []))
        return keys

    def copy_prefix(self, source_url: str, target_url: str) -> list[str]:
        """Copy every object under source to the same relative key under target; returns the source keys."""
        bucket, source = split_s3_url(source_url)
        target_bucket, target = split_s3_url(target_url)
        keys = self.keys_under(source_url)
        for key in keys:
            # The managed copy: server-side, multipart above 8 MB, so objects over CopyObject's 5 GB limit work too.
            self.s3.copy({"Bucket": bucket, "Key": key}, target_bucket, target + key[len(source) :])
        return keys

    def delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = self.s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
            errors = response.get("Errors", [])
            if errors:
                raise ReplayFailed(
                    f"S3 refused to delete {len(errors)} object(s) in s3://{bucket}/ "
                    f"({errors[0].get('Code')}); run the replay again to finish."
                )
            for key in chunk:
                self._delete_local(f"s3://{bucket}/{key}")

    def _delete_local(self, url: str) -> None:
        for root, folder in self.mirrors.items():
            if url.startswith(root):
                local = folder / url[len(root) :]
                local.unlink(missing_ok=True)
                parent = local.parent
                while parent != folder and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent


# ------------------------------------------------------------------------------------------ REPLAY item


def _open_replay(items: DateItems) -> dict[str, Any] | None:
    unfinished = [r for r in items.replays if r.get("status") != "completed"]
    return max(unfinished, key=lambda r: str(r.get("started_at", ""))) if unfinished else None


def _put_replay(
    ctx: OpsContext, date_prefix: str, replay_id: str, old: list[str], files: int
) -> dict[str, Any]:
    ttl = expires_at(utc_now(), ctx.config().ttl_days)
    return ctx.tracking().put_replay(date_prefix, replay_id, old, files, iso_now(), ttl)


def _set_replay(ctx: OpsContext, replay: dict[str, Any], status: str, **extra: Any) -> None:
    ctx.tracking().set_replay(replay["date_prefix"], replay["replay_id"], status, iso_now(), **extra)
    replay["status"] = status
    replay.update(extra)


# ------------------------------------------------------------------------------------------ steps


def _check_idle(items: DateItems) -> None:
    busy_files = sum(1 for f in items.files if f.get("status") in (FileStatus.PENDING, FileStatus.MANIFESTED))
    running = [
        m["manifest_id"]
        for m in items.manifests
        if m.get("status") in (ManifestStatus.PENDING, ManifestStatus.PROCESSING)
        and not m.get("superseded_by")
    ]
    claims = [c for c in items.claims if c.get("claim_open")]
    if busy_files or running or claims:
        raise DateBusy(
            f"Date {items.date_prefix} is being processed ({busy_files} file(s) pending or manifested, "
            f"{len(running)} manifest(s) running, {len(claims)} open claim(s)); wait until `pipeline status --date "
            f"{items.date_prefix}` shows it idle (or run `pipeline reconcile`), then replay."
        )
    if not items.files:
        raise ReplayFailed(f"No file of date {items.date_prefix} is tracked: there is nothing to replay.")


def _snapshot(ctx: OpsContext, objects: Objects, where: Locations, replay: dict[str, Any]) -> int:
    copied = objects.copy_prefix(where.partition, where.snapshot)
    bad: list[str] = []
    if where.quarantine and where.quarantine_snapshot:
        bad = objects.copy_prefix(where.quarantine, where.quarantine_snapshot)
    # Catalog readers move to the snapshot before anything is deleted.
    database, table = ctx.stack.glue_database, ctx.stack.glue_table
    if database:
        glue = ctx.client("glue")
        location = catalog.get_partition_location(glue, database, table, where.date_prefix)
        if location is not None and location.rstrip("/") != where.snapshot.rstrip("/"):
            catalog.set_partition_location(glue, database, table, where.date_prefix, where.snapshot)
    output_bucket, _ = split_s3_url(where.partition)
    objects.delete(output_bucket, copied)
    if bad and where.quarantine:
        bad_bucket, _ = split_s3_url(where.quarantine)
        objects.delete(bad_bucket, bad)
    return len(copied) + len(bad)


def _snapshot_iceberg(
    ctx: OpsContext,
    objects: Objects,
    where: Locations,
    replay: dict[str, Any],
    table: replay_iceberg.TableHandle,
) -> dict[str, Any]:
    """Iceberg step 2: branch at S0 + marker (the job commits D there from now on), the date idle again, the
    date's live files on main recorded, the quarantine moved aside as for Parquet."""
    s3 = ctx.client("s3")
    replay_id = str(replay["replay_id"])
    recorded = replay_iceberg.open_branch(table, s3, where.output_path, where.date_prefix, replay_id)
    try:  # a manifest that started before the marker would still commit to main: refuse rather than race it
        _check_idle(read_date(ctx.ddb, ctx.table_name, where.date_prefix))
    except (DateBusy, ReplayFailed):
        # the REPLAY item stays at `snapshot`: running the command again retries this step
        replay_iceberg.abandon(table, s3, where.output_path, where.date_prefix, replay_id)
        raise
    recorded["replaced_files"] = replay_iceberg.record_replaced(
        table, s3, where.output_path, where.date_prefix, replay_id
    )
    if where.quarantine and where.quarantine_snapshot:
        bad = objects.copy_prefix(where.quarantine, where.quarantine_snapshot)
        bad_bucket, _ = split_s3_url(where.quarantine)
        objects.delete(bad_bucket, bad)
        recorded["snapshot_objects"] = len(bad)
    return recorded


def _wait_for_running(
    ctx: OpsContext, date_prefix: str, timeout_seconds: float, poll_seconds: float
) -> Callable[[], None]:
    """A wait for the manifests of the date running now (they may have read the marker) to end."""

    def running() -> set[str]:
        items = read_date(ctx.ddb, ctx.table_name, date_prefix)
        return {
            str(m["manifest_id"])
            for m in items.manifests
            if m.get("status") in (ManifestStatus.PENDING, ManifestStatus.PROCESSING)
        }

    def wait() -> None:
        waiting = running()
        deadline = time.monotonic() + timeout_seconds
        while waiting:
            if time.monotonic() > deadline:
                raise ReplayIncomplete(
                    f"Manifest(s) {', '.join(sorted(waiting))} of {date_prefix} are still running after "
                    f"{int(timeout_seconds)} s; the replay swaps once they end: run the command again."
                )
            time.sleep(poll_seconds)
            waiting &= running()

    return wait


def _supersede(ctx: OpsContext, items: DateItems, replay: dict[str, Any]) -> None:
    """Mark the date's manifests that predate the replay (and are final) as superseded by it. Idempotent; a manifest
    started after the replay began (a new one) is never touched."""
    started_at = str(replay["started_at"])
    for manifest in items.manifests:
        if manifest.get("superseded_by") or str(manifest.get("created_at") or "") >= started_at:
            continue
        ctx.tracking().supersede_manifest(
            items.date_prefix, manifest["file_key"], str(replay["replay_id"]), iso_now()
        )


def _reset_files(ctx: OpsContext, items: DateItems, replay_id: str) -> tuple[int, int]:
    """completed|failed (as read: stored, or by reference) -> pending for every file of the date; (files reset,
    their bytes)."""
    config = ctx.config()
    tracking = ctx.tracking(config)
    now = iso_now()
    ttl = expires_at(utc_now(), config.ttl_days)
    count = size = 0
    for item in items.files:
        if item.get("status") not in (FileStatus.COMPLETED, FileStatus.FAILED):  # derived (read_date)
            continue
        created_at = str(item.get("created_at") or now)
        # A file stored `manifested` is finished by reference: its reset is conditioned on its MANIFEST item.
        by_reference = item.get(STORED_STATUS) == FileStatus.MANIFESTED
        if not tracking.reset_file_for_replay(
            items.date_prefix,
            item["file_key"],
            created_at,
            replay_id,
            now,
            ttl,
            manifest_id=str(item["manifest_id"]) if by_reference else None,
        ):
            continue
        count += 1
        size += int(item.get("size", 0) or 0)
    if count:
        tracking.add_pending(items.date_prefix, count, size, now, ttl)
    return count, size


@dataclass
class _Progress:
    files: int
    completed: int
    pending: int
    new_manifests: list[str]
    failed_manifests: list[str]


def _progress(items: DateItems, replay_id: str) -> _Progress:
    """The replay's files (reset removed their old manifest id: any manifest id they carry is a new one)."""
    mine = [f for f in items.files if f.get("replay_id") == replay_id]
    completed = sum(1 for f in mine if f.get("status") == FileStatus.COMPLETED and f.get("manifest_id"))
    pending = sum(1 for f in mine if f.get("status") == FileStatus.PENDING)
    used = {str(f["manifest_id"]) for f in mine if f.get("manifest_id")}
    manifests = {str(m["manifest_id"]): m for m in items.manifests}
    failed = sorted(m for m in used if manifests.get(m, {}).get("status") == ManifestStatus.FAILED)
    return _Progress(len(mine), completed, pending, sorted(used), failed)


def _swap(ctx: OpsContext, objects: Objects, where: Locations, keep_snapshot: bool) -> bool:
    swapped = False
    database, table = ctx.stack.glue_database, ctx.stack.glue_table
    if database:
        glue = ctx.client("glue")
        location = catalog.get_partition_location(glue, database, table, where.date_prefix)
        if location is not None and location.rstrip("/") != where.partition.rstrip("/"):
            swapped = catalog.set_partition_location(
                glue, database, table, where.date_prefix, where.partition
            )
    if not keep_snapshot:
        for prefix in (where.snapshot, where.quarantine_snapshot):
            if prefix:
                bucket, _ = split_s3_url(prefix)
                objects.delete(bucket, objects.keys_under(prefix))
    return swapped


def _delete_quarantine_snapshot(objects: Objects, where: Locations, keep_snapshot: bool) -> None:
    if not keep_snapshot and where.quarantine_snapshot:
        bucket, _ = split_s3_url(where.quarantine_snapshot)
        objects.delete(bucket, objects.keys_under(where.quarantine_snapshot))


# ------------------------------------------------------------------------------------------ command


def replay(
    ctx: OpsContext,
    date_prefix: str,
    *,
    wait: bool = True,
    timeout_seconds: float = 6 * 3600,
    poll_seconds: float = 5.0,
    keep_snapshot: bool = False,
    mirrors: dict[str, Path] | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    output_path = ctx.require_output_path()
    items = read_date(ctx.ddb, ctx.table_name, date_prefix)
    replay_item = _open_replay(items)
    resumed = replay_item is not None
    if replay_item is None:
        _check_idle(items)
        old = sorted(str(m["manifest_id"]) for m in items.manifests if not m.get("superseded_by"))
        replay_id = f"{date_prefix}-replay-{datetime.now(UTC):%H%M%S}-{secrets.token_hex(4)}"
        replay_item = _put_replay(ctx, date_prefix, replay_id, old, len(items.files))
    replay_id = str(replay_item["replay_id"])
    old_ids = sorted(replay_item.get("old_manifests") or [])
    where = Locations(output_path, ctx.stack.bad_records_path, date_prefix, replay_id, dict(mirrors or {}))
    objects = Objects(ctx.client("s3"), where.mirrors)
    table_format = str(replay_item.get("table_format") or replay_iceberg.table_format(ctx))
    table = replay_iceberg.open_table(ctx) if table_format == "iceberg" else None
    result = ReplayResult(
        replay_id,
        date_prefix,
        str(replay_item["status"]),
        resumed=resumed,
        old_manifests=old_ids,
        old_manifest_count=int(replay_item.get("old_manifest_count", len(old_ids))),
        table_format=table_format,
    )

    if replay_item["status"] == "snapshot":
        if progress:
            progress("snapshot", 0, 1)
        if table is not None:
            recorded = _snapshot_iceberg(ctx, objects, where, replay_item, table)
            result.snapshot_objects = int(recorded.pop("snapshot_objects", 0))
            _set_replay(ctx, replay_item, "reset", table_format=table_format, **recorded)
        else:
            result.snapshot_objects = _snapshot(ctx, objects, where, replay_item)
            _set_replay(ctx, replay_item, "reset", snapshot_prefix=where.snapshot)
    if replay_item.get("iceberg_snapshot_id") is not None:
        result.before_snapshot_id = int(replay_item["iceberg_snapshot_id"])
        result.replaced_files = int(replay_item.get("replaced_files", 0))
    if replay_item["status"] == "reset":
        items = read_date(ctx.ddb, ctx.table_name, date_prefix)
        _supersede(ctx, items, replay_item)
        result.files, _ = _reset_files(ctx, items, replay_id)
        _set_replay(ctx, replay_item, "running")
    result.status = str(replay_item["status"])

    service = ctx.control_plane()
    deadline = time.monotonic() + timeout_seconds
    while replay_item["status"] == "running":
        state = _progress(read_date(ctx.ddb, ctx.table_name, date_prefix), replay_id)
        result.files, result.completed_files = state.files, state.completed
        result.new_manifests, result.failed_manifests = state.new_manifests, state.failed_manifests
        if progress:
            progress("running", state.completed, state.files)
        if state.files and state.completed == state.files:
            if progress:
                progress("swap", 0, 1)
            if table is not None:
                wait_running = _wait_for_running(ctx, date_prefix, timeout_seconds, poll_seconds)
                result.swap_snapshot_id = replay_iceberg.swap(
                    table, ctx.client("s3"), output_path, date_prefix, replay_item, wait_running
                )
                _delete_quarantine_snapshot(objects, where, keep_snapshot)
            else:
                result.catalog_swapped = _swap(ctx, objects, where, keep_snapshot)
            _set_replay(
                ctx, replay_item, "completed", completed_at=iso_now(), new_manifests=state.new_manifests
            )
            break
        if state.failed_manifests:
            raise ReplayIncomplete(
                f"Replay {replay_id} of {date_prefix} is waiting on failed manifest(s) "
                f"{', '.join(state.failed_manifests)}: fix the cause, `pipeline retry` them, then run `pipeline "
                f"replay --date {date_prefix}` again to finish (the catalog still shows the old data)."
            )
        if state.pending:
            service.start_due_batches(
                date_prefix, None, allow_partial=True, budget=service.config.max_manifests_per_invocation
            )
        if not wait:
            break
        if time.monotonic() > deadline:
            raise ReplayIncomplete(
                f"Replay {replay_id} of {date_prefix} did not finish within {int(timeout_seconds)} s "
                f"({state.completed}/{state.files} files done); run the command again to keep waiting."
            )
        time.sleep(poll_seconds)
    result.status = str(replay_item["status"])
    return result


def local_mirrors(
    lake: Path | None, quarantine: Path | None, output_path: str | None, bad_records_path: str | None
) -> dict[str, Path]:
    """Local folders that mirror the output and quarantine (the embedded mode's lake), keyed by their S3 root."""
    mirrors: dict[str, Path] = {}
    if lake is not None and output_path:
        mirrors[output_path] = lake
    if quarantine is not None and bad_records_path:
        mirrors[bad_records_path] = quarantine
    return mirrors
