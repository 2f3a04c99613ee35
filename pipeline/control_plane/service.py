"""The control plane service: track files, claim batches, start-then-record with rollback, flush and complete.
AWS is reached only through the ports (``ports.py``: the tracking store, manifest store, executions and catalog),
which ``bootstrap`` wires to the real adapters; undoing and repairing claims lives in ``repair``, one SQS batch
in ``ingest``."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pipeline.contracts import metrics as m
from pipeline.contracts.errors import InvalidConfiguration, ManifestAlreadyFinal
from pipeline.contracts.manifest import Manifest, new_manifest_id
from pipeline.contracts.report import report_counts
from pipeline.contracts.suffixes import has_accepted_suffix
from pipeline.control_plane.adapters.backoff import is_retryable
from pipeline.control_plane.adapters.pending_reader import (
    MAX_DATES_PER_SHARD,
    PendingReader,
    dates_with_pending,
    pending_freshness,
)
from pipeline.control_plane.adapters.tracking_records import (
    Counter,
    FileRecord,
    PendingFile,
    StartedManifest,
    Verdict,
)
from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.domain.batching import BatchPolicy
from pipeline.control_plane.domain.events import CompleteRequest, S3ObjectEvent
from pipeline.control_plane.domain.failure import job_error_name
from pipeline.control_plane.domain.items import manifest_item_key
from pipeline.control_plane.domain.keys import extract_date_prefix, make_file_key
from pipeline.control_plane.domain.states import FINAL_MANIFEST_STATUSES, ManifestStatus
from pipeline.control_plane.domain.times import claim_expires_at, expires_at, iso, parse_iso, utc_now
from pipeline.control_plane.ingest import IngestSession
from pipeline.control_plane.metrics import MetricsRecorder
from pipeline.control_plane.ports import (
    Catalog,
    ExecutionStarter,
    ManifestStorage,
    ReportReader,
    TrackingStore,
)
from pipeline.control_plane.repair import FlushOutcome, release, repair, roll_back

LEASE_SECONDS_MAX = 900


class ControlPlane:
    def __init__(
        self,
        config: ControlPlaneConfig,
        table: TrackingStore,
        store: ManifestStorage,
        executions: ExecutionStarter,
        logger: Any,
        clock: Callable[[], datetime] = utc_now,
        remaining_seconds: Callable[[], float] = lambda: float("inf"),
        catalog: Catalog | None = None,
        reports: ReportReader | None = None,
        metrics: MetricsRecorder | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or MetricsRecorder(None)
        self.reports = reports
        # Registers (date_prefix, job report) before a manifest is recorded `completed` (the Glue Data
        # Catalog); an error here fails the status update, which Step Functions retries and
        # `pipeline reconcile` repairs, so a completed manifest is never missing from the catalog.
        self.catalog = catalog
        self.table = table
        self.store = store
        self.executions = executions
        self.log = logger
        self.clock = clock
        self.remaining_seconds = remaining_seconds
        self.policy = BatchPolicy(
            config.max_files_per_manifest, config.max_bytes_per_manifest, config.max_batch_wait_seconds
        )

    # -- helpers ----------------------------------------------------------------------------------------------
    def ttl(self, now: datetime) -> int:
        return expires_at(now, self.config.ttl_days)

    def claim_ttl(self, now: datetime) -> int:
        """A claimed file's TTL: it is not written again when its manifest ends (completion by reference)."""
        return claim_expires_at(now, self.config.ttl_days)

    def time_left(self, reserve: float = 5.0) -> bool:
        return self.remaining_seconds() > reserve

    # -- ingest -----------------------------------------------------------------------------------------------
    def ingest_session(self) -> IngestSession:
        return IngestSession(self)

    def track(self, event: S3ObjectEvent) -> bool | None:
        """Track one object: True if new, False if already tracked, None if not for us (logged)."""
        if not event.is_object_created:
            self.log.info("ignored event", extra={"event_name": event.event_name, "bucket": event.bucket})
            return None
        if not has_accepted_suffix(event.key, self.config.accepted_suffixes):
            self.log.info(
                "ignored object with unsupported suffix",
                extra={
                    "bucket": event.bucket,
                    "key": event.key,
                    "accepted": list(self.config.accepted_suffixes),
                },
            )
            return None
        now = self.clock()
        date_prefix = extract_date_prefix(event.key, event.event_time)
        record = FileRecord(
            date_prefix=date_prefix,
            file_key=make_file_key(event.bucket, event.key, event.etag),
            bucket=event.bucket,
            key=event.key,
            size=event.size,
            etag=event.etag,
            created_at=iso(now),
            version_id=event.version_id,
        )
        new = self.table.put_new_file(record, self.ttl(now))
        self.metrics.add(m.FILES_TRACKED if new else m.DUPLICATE_EVENTS)
        if new:
            self.log.info(
                "file tracked",
                extra={
                    "date_prefix": date_prefix,
                    "bucket": event.bucket,
                    "key": event.key,
                    "size": event.size,
                },
            )
        else:
            self.log.debug(
                "duplicate notification ignored", extra={"date_prefix": date_prefix, "key": event.key}
            )
        return new

    def note_new_files(self, date_prefix: str, count: int, total_bytes: int) -> Counter:
        now = self.clock()
        return self.table.add_pending(date_prefix, count, total_bytes, iso(now), self.ttl(now))

    # -- batches ----------------------------------------------------------------------------------------------
    def start_due_batches(
        self, date_prefix: str, counter: Counter | None, allow_partial: bool, budget: int
    ) -> list[str]:
        """Start full batches of a date (and, with ``allow_partial``, a last partial one if its oldest file is due)
        while holding the date's lease. Returns the started manifest ids."""
        started: list[str] = []
        if budget <= 0:
            return started
        owner = secrets.token_hex(8)
        now = self.clock()
        lease_seconds = min(LEASE_SECONDS_MAX, max(30, int(min(self.remaining_seconds(), 10**6))))
        if not self.table.acquire_lease(
            date_prefix, owner, int(now.timestamp()), int(now.timestamp()) + lease_seconds
        ):
            self.log.debug("another invocation is batching this date", extra={"date_prefix": date_prefix})
            return started
        try:
            if counter is None:
                counter = self.table.get_counter(date_prefix)
            while len(started) < budget and self.time_left():
                full = self.policy.is_full(counter.pending_count, counter.pending_bytes)
                if not full and not allow_partial:
                    break
                manifest_id, counter = self._start_one(date_prefix, counter, allow_partial=allow_partial)
                if manifest_id is None:
                    break
                started.append(manifest_id)
        finally:
            self.table.release_lease(date_prefix, owner)
        return started

    def _start_one(
        self, date_prefix: str, counter: Counter, allow_partial: bool
    ) -> tuple[str | None, Counter]:
        """Claim, write, start, record one batch. (manifest id or None, the counter as last seen)."""
        reader = PendingReader(self.table, date_prefix, read_budget=2 * self.config.max_files_per_manifest)
        candidates = reader.take(self.config.max_files_per_manifest)
        if not candidates:
            self._maybe_correct(date_prefix, counter, reader, [], 0)
            return None, counter
        # Decide before claiming: a full batch, or (flush) a partial one whose oldest file is due.
        preview = self.policy.select(candidates)
        oldest_due = self.policy.is_due(parse_iso(min(c.created_at for c in candidates)), self.clock())
        if not preview.closed and not (allow_partial and oldest_due):
            if reader.exhausted:
                self._maybe_correct(date_prefix, counter, reader, candidates, sum(c.size for c in candidates))
            return None, counter

        now = self.clock()
        manifest_id = new_manifest_id(date_prefix, now)
        self.table.put_claim(date_prefix, manifest_id, iso(now), self.ttl(now))
        claimed: list[PendingFile] = []
        batch = self.policy.accumulator()
        queue = list(candidates)
        try:
            while not batch.closed:
                if not queue:
                    queue = reader.take(batch.remaining_files)
                    if not queue:
                        break
                candidate = queue.pop(0)
                if not batch.offer(candidate.size):
                    break
                won = self.table.claim_file(
                    date_prefix, candidate.file_key, manifest_id, iso(now), self.claim_ttl(now)
                )
                if won:
                    batch.add(candidate.size)
                    claimed.append(replace(candidate, version_id=won.version_id))
        except Exception as exc:
            roll_back(self, date_prefix, manifest_id, claimed, None, "claim failed", exc)
            raise
        if not claimed or (not batch.closed and not (allow_partial and oldest_due)):
            # A claim that comes up short is released: the next trigger or flush retries.
            release(self, manifest_id, claimed, date_prefix)
            self.table.delete_claim(date_prefix, manifest_id)
            self.log.info(
                "claim came up short and was released",
                extra={"date_prefix": date_prefix, "manifest_id": manifest_id, "claimed": len(claimed)},
            )
            return None, counter
        return self._write_start_record(date_prefix, manifest_id, claimed, counter)

    def _write_start_record(
        self, date_prefix: str, manifest_id: str, claimed: list[PendingFile], counter: Counter
    ) -> tuple[str | None, Counter]:
        now = self.clock()
        total_bytes = sum(f.size for f in claimed)
        manifest = Manifest.build(
            manifest_id, date_prefix, iso(now), [(f.bucket, f.key, f.size, f.version_id) for f in claimed]
        )
        try:
            manifest_path = self.store.put(manifest)
        except Exception as exc:
            roll_back(self, date_prefix, manifest_id, claimed, None, "execution start failed", exc)
            return None, counter
        try:
            execution_arn = self.executions.start(
                manifest_id,
                {
                    "manifest_id": manifest_id,
                    "manifest_path": manifest_path,
                    "date_prefix": date_prefix,
                    "file_count": len(claimed),
                    "file_key": manifest_item_key(manifest_id),
                },
            )
        except Exception as exc:
            found = self._started_despite(exc, manifest_id)
            if found is None:
                roll_back(
                    self, date_prefix, manifest_id, claimed, manifest_path, "execution start failed", exc
                )
                return None, counter
            execution_arn = found
        # Only now that the execution exists is the MANIFEST item written.
        started = StartedManifest(
            date_prefix,
            manifest_id,
            execution_arn,
            manifest_path,
            len(claimed),
            total_bytes,
            oldest_created_at=min(f.created_at for f in claimed),
        )
        counter = self.record_started(started, now) or counter
        self.table.delete_claim(date_prefix, manifest_id)
        self.metrics.add(m.MANIFESTS_STARTED)
        self.metrics.add(m.FILES_MANIFESTED, len(claimed))
        self.log.info(
            "manifest started",
            extra={
                "manifest_id": manifest_id,
                "date_prefix": date_prefix,
                "file_count": len(claimed),
                "total_bytes": total_bytes,
                "execution_arn": execution_arn,
            },
        )
        return manifest_id, counter

    def record_started(self, started: StartedManifest, now: datetime) -> Counter | None:
        """Write the MANIFEST item of a started execution, then take its files off the date's pending count;
        once only: a repeat records and counts nothing (None). The counter as it now is."""
        if not self.table.record_manifest(started, iso(now), self.ttl(now)):
            return None
        return self.table.add_pending(
            started.date_prefix, -started.file_count, -started.total_bytes, iso(now), self.ttl(now)
        )

    def _started_despite(self, exc: BaseException, manifest_id: str) -> str | None:
        """After a timeout or a 5xx the start may have reached Step Functions: look before rolling back."""
        if not is_retryable(exc):
            return None
        try:
            return self.executions.find(manifest_id)
        except Exception:
            return None

    def _maybe_correct(
        self,
        date_prefix: str,
        counter: Counter,
        reader: PendingReader,
        seen: list[PendingFile],
        seen_bytes: int,
    ) -> None:
        """The pending index was read to its end: when the hint disagrees, set it to what was seen."""
        if not reader.exhausted:
            return
        if counter.pending_count == len(seen) and counter.pending_bytes == seen_bytes:
            return
        if self.table.correct_counter(date_prefix, counter, len(seen), seen_bytes, iso(self.clock())):
            self.log.info(
                "pending counter corrected",
                extra={"date_prefix": date_prefix, "was": counter.pending_count, "now": len(seen)},
            )

    # -- flush and repair -------------------------------------------------------------------------------------
    def flush(self) -> FlushOutcome:
        """Scheduled: repair stale claims, then start every batch that is full or whose oldest file is due."""
        outcome = FlushOutcome()
        self.repair(outcome)
        budget = self.config.max_manifests_per_invocation
        # The Limit-1 reads that find the dates also give each shard's oldest pending file; with one more Limit-1
        # read of the open manifests: the freshness.
        dates, age = pending_freshness(self.table, self.clock(), MAX_DATES_PER_SHARD)
        self.metrics.gauge(m.FRESHNESS, round(age, 3))
        for date_prefix in dates:
            outcome.dates_seen.append(date_prefix)
            if not self.time_left() or len(outcome.started) >= budget:
                break
            outcome.started += self.start_due_batches(
                date_prefix, None, allow_partial=True, budget=budget - len(outcome.started)
            )
        self.log.info(
            "flush done",
            extra={
                "started": len(outcome.started),
                "repaired": len(outcome.repaired_recorded) + len(outcome.repaired_rolled_back),
                "dates_with_pending_files": len(outcome.dates_seen),
                "oldest_pending_age_seconds": round(age, 3),
            },
        )
        return outcome

    def repair(self, outcome: FlushOutcome | None = None) -> FlushOutcome:
        """Claims older than the grace period that were never recorded nor rolled back (see ``repair``)."""
        return repair(self, outcome)

    def dates_with_pending(self) -> list[str]:
        return dates_with_pending(self.table, MAX_DATES_PER_SHARD)

    # -- status update from the state machine -----------------------------------------------------------------
    def complete(self, request: CompleteRequest) -> dict[str, Any]:
        target = ManifestStatus(request.status)
        record = self.table.get_manifest(request.date_prefix, request.manifest_id)
        if record is not None and record.status in FINAL_MANIFEST_STATUSES:
            if record.status != target:
                raise ManifestAlreadyFinal(
                    f"manifest {request.manifest_id} is already {record.status}; refusing to mark it {target.value}"
                )
            return {
                "manifest_id": request.manifest_id,
                "status": target.value,
                "files": record.file_count,
                "repeat": True,
            }
        if target == ManifestStatus.COMPLETED and request.report_path:
            if self.reports is None:
                raise InvalidConfiguration("complete: a report_path was given but no report reader is wired")
            request = replace(request, report=self.reports.read(request.report_path))
        if target == ManifestStatus.COMPLETED and self.catalog is not None:
            self.catalog.register(request.date_prefix, request.report or {})
        now = self.clock()
        # Completion by reference: the one write below is the whole status update. The manifest's files stay
        # `manifested` under its id and read as its final status (domain/states.effective_file_status).
        files = record.file_count if record is not None else self._count_files(request)
        report = report_counts(request.report)
        job_error = job_error_name(request.cause)
        verdict = Verdict(target, request.error, request.cause, report, job_error)
        if not self.table.finalize_manifest(
            request.date_prefix, request.manifest_id, verdict, iso(now), self.ttl(now)
        ):
            raise ManifestAlreadyFinal(f"manifest {request.manifest_id} became final with another status")
        if target == ManifestStatus.COMPLETED:
            self.metrics.add(m.MANIFESTS_COMPLETED)
            self.metrics.add(m.FILES_CONVERTED, files)
        else:
            self.metrics.add(m.MANIFESTS_FAILED)
        log = self.log.info if target == ManifestStatus.COMPLETED else self.log.warning
        log(
            "manifest finished",
            extra={
                "manifest_id": request.manifest_id,
                "status": target.value,
                "files": files,
                **report,
                **({"error": request.error} if request.error else {}),
                **({"job_error": job_error} if job_error else {}),
            },
        )
        return {"manifest_id": request.manifest_id, "status": target.value, "files": files}

    def _count_files(self, request: CompleteRequest) -> int:
        """The files carrying the manifest's id, when its MANIFEST item is not recorded yet (a status update that
        overtook the start record: rare; reads only)."""
        return sum(
            1
            for f in self.table.query_manifest_files(request.manifest_id)
            if f.date_prefix == request.date_prefix
        )
