"""Undoing and repairing claims: the rollback of a claim whose execution did not start, and the flush-time
crash repair of intent records (``CLAIM#``) that a dead invocation left behind.

Why a claim needs repair at all: files are claimed (``pending -> manifested``) before the execution starts, and
the MANIFEST item is written only after it started. A function that dies between the two leaves files claimed by
a manifest nobody recorded. The intent record written before the first claim is what the flush finds, after a
grace period, to either record the manifest (its execution exists) or put the files back to pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pipeline.contracts import metrics as m
from pipeline.contracts.errors import ManifestNotReadable
from pipeline.control_plane.adapters.backoff import describe
from pipeline.control_plane.adapters.tracking_records import StartedManifest
from pipeline.control_plane.domain.states import FileStatus
from pipeline.control_plane.domain.times import iso

if TYPE_CHECKING:
    from pipeline.control_plane.adapters.tracking_records import ClaimedFile, PendingFile
    from pipeline.control_plane.service import ControlPlane

REPAIRS_PER_FLUSH = 25


@dataclass
class FlushOutcome:
    started: list[str] = field(default_factory=list)
    repaired_recorded: list[str] = field(default_factory=list)
    repaired_rolled_back: list[str] = field(default_factory=list)
    dates_seen: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "repaired_recorded": self.repaired_recorded,
            "repaired_rolled_back": self.repaired_rolled_back,
            "dates_with_pending_files": self.dates_seen,
        }


def release(
    cp: ControlPlane,
    manifest_id: str,
    files: Iterable[PendingFile | ClaimedFile],
    date_prefix: str | None = None,
) -> int:
    """Files back to pending, only those still claimed by ``manifest_id``; how many went back."""
    now = cp.clock()
    released = 0
    for f in files:
        if cp.table.release_file(
            date_prefix or f.date_prefix, f.file_key, f.created_at, manifest_id, iso(now), cp.ttl(now)
        ):
            released += 1
    return released


def roll_back(
    cp: ControlPlane,
    date_prefix: str,
    manifest_id: str,
    claimed: list[PendingFile],
    manifest_path: str | None,
    what: str,
    exc: BaseException,
) -> None:
    """Undo a claim whose execution did not start: files back to pending (only those still ours), manifest
    object removed, no MANIFEST item, the intent record dropped. One error line. If the rollback itself
    fails, the intent record stays and the flush repairs it after the grace period."""
    try:
        released = release(cp, manifest_id, claimed, date_prefix)
        if manifest_path:
            cp.store.delete(manifest_path)
        cp.table.delete_claim(date_prefix, manifest_id)
    except Exception as cleanup_exc:
        cp.log.error(
            f"{what}; rollback incomplete, the flush will repair it",
            extra={
                "error": "ExecutionStartFailed",
                "manifest_id": manifest_id,
                "date_prefix": date_prefix,
                "cause": describe(exc),
                "rollback_cause": describe(cleanup_exc),
            },
        )
        return
    cp.metrics.add(m.START_ROLLBACKS)
    cp.log.error(
        f"{what}; files rolled back to pending",
        extra={
            "error": "ExecutionStartFailed",
            "manifest_id": manifest_id,
            "date_prefix": date_prefix,
            "files_rolled_back": released,
            "cause": describe(exc),
        },
    )


def repair(cp: ControlPlane, outcome: FlushOutcome | None = None) -> FlushOutcome:
    """Claims older than the grace period that were never recorded nor rolled back (the function died)."""
    outcome = outcome or FlushOutcome()
    cutoff = iso(cp.clock() - timedelta(seconds=cp.config.repair_grace_seconds))
    for claim in cp.table.open_claims_before(cutoff, REPAIRS_PER_FLUSH):
        if not cp.time_left():
            break
        execution_arn = cp.executions.find(claim.manifest_id)
        path = cp.store.path_for(claim.date_prefix, claim.manifest_id)
        files = list(cp.table.query_manifest_files(claim.manifest_id))
        if execution_arn is not None:
            try:
                manifest = cp.store.get(path)
            except ManifestNotReadable as exc:
                # Missing or not permitted: the manifest only gives the byte total here, the files give it too.
                manifest = None
                cp.log.warning(
                    "manifest object not readable; repairing from the claimed files",
                    extra={"error": exc.error_name, "manifest_id": claim.manifest_id, "cause": exc.message},
                )
            claimed_files = [f for f in files if f.status != FileStatus.PENDING]
            total = sum(f.size for f in claimed_files) if manifest is None else manifest.total_bytes
            cp.record_started(
                StartedManifest(
                    claim.date_prefix,
                    claim.manifest_id,
                    execution_arn,
                    path,
                    len(claimed_files),
                    total,
                    oldest_created_at=min(
                        (f.created_at for f in claimed_files if f.created_at), default=None
                    ),
                ),
                cp.clock(),
            )
            outcome.repaired_recorded.append(claim.manifest_id)
            cp.log.warning(
                "repaired a started manifest that had no MANIFEST item",
                extra={"manifest_id": claim.manifest_id, "date_prefix": claim.date_prefix},
            )
        else:
            released = release(cp, claim.manifest_id, [f for f in files if f.status == FileStatus.MANIFESTED])
            cp.store.delete(path)
            outcome.repaired_rolled_back.append(claim.manifest_id)
            cp.log.warning(
                "rolled back a claim whose execution never started",
                extra={
                    "manifest_id": claim.manifest_id,
                    "date_prefix": claim.date_prefix,
                    "files": released,
                },
            )
        cp.table.delete_claim(claim.date_prefix, claim.manifest_id)
        cp.metrics.add(m.CLAIMS_REPAIRED)
    return outcome
