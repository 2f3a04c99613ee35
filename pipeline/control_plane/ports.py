"""What the service needs of the world, as ``typing.Protocol``s: exactly the methods ``service``, ``repair`` and
``ingest`` call. The real adapters (``adapters/``) satisfy them structurally and ``bootstrap`` wires them; the
tests' in-memory fakes (tests/control_plane/fakes.py) implement the same conditional semantics, so the service's
paths can be run without AWS and without mocking our own code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from pipeline.contracts.manifest import Manifest
from pipeline.control_plane.adapters.tracking_records import (
    ClaimedFile,
    ClaimedVersion,
    Counter,
    FileRecord,
    ManifestRecord,
    OpenClaim,
    PendingFile,
    StartedManifest,
    Verdict,
)


class TrackingStore(Protocol):
    pending_shards: int

    def put_new_file(self, record: FileRecord, ttl: int) -> bool: ...

    def query_pending(
        self, shard: str, date_prefix: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[PendingFile], dict[str, Any] | None]: ...

    def first_pending_after(self, shard: str, after: str | None) -> PendingFile | None: ...

    def claim_file(
        self, date_prefix: str, file_key: str, manifest_id: str, now: str, ttl: int
    ) -> ClaimedVersion | None: ...

    def release_file(
        self, date_prefix: str, file_key: str, created_at: str, manifest_id: str, now: str, ttl: int
    ) -> bool: ...

    def query_manifest_files(self, manifest_id: str, page_size: int = 200) -> Iterator[ClaimedFile]: ...

    def add_pending(self, date_prefix: str, count: int, total_bytes: int, now: str, ttl: int) -> Counter: ...

    def get_counter(self, date_prefix: str) -> Counter: ...

    def correct_counter(
        self, date_prefix: str, seen: Counter, count: int, total_bytes: int, now: str
    ) -> bool: ...

    def acquire_lease(self, date_prefix: str, owner: str, now_epoch: int, until_epoch: int) -> bool: ...

    def release_lease(self, date_prefix: str, owner: str) -> None: ...

    def put_claim(self, date_prefix: str, manifest_id: str, now: str, ttl: int) -> None: ...

    def delete_claim(self, date_prefix: str, manifest_id: str) -> None: ...

    def open_claims_before(self, cutoff: str, limit: int) -> list[OpenClaim]: ...

    def record_manifest(self, started: StartedManifest, now: str, ttl: int) -> bool: ...

    def oldest_open_manifest(self) -> str | None: ...

    def get_manifest(self, date_prefix: str, manifest_id: str) -> ManifestRecord | None: ...

    def finalize_manifest(
        self, date_prefix: str, manifest_id: str, verdict: Verdict, now: str, ttl: int
    ) -> bool: ...


class ManifestStorage(Protocol):
    def path_for(self, date_prefix: str, manifest_id: str) -> str: ...

    def put(self, manifest: Manifest) -> str: ...

    def get(self, path: str) -> Manifest | None: ...

    def delete(self, path: str) -> None: ...


class ExecutionStarter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str: ...

    def find(self, name: str) -> str | None: ...


class ReportReader(Protocol):
    """Reads the job report (an s3:// URL) the state machine names in a `complete` status update."""

    def read(self, path: str) -> dict[str, Any]: ...


class Catalog(Protocol):
    """Registers a completed manifest's output (the Glue Data Catalog) before it is recorded completed."""

    def register(self, date_prefix: str, report: dict[str, Any]) -> Any: ...
