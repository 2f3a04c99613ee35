"""In-memory fakes at the service's ports (pipeline/control_plane/ports.py), with the real adapters' conditional
semantics: a file is tracked once, a claim moves only a pending file, a release only a file still claimed by that
manifest, a lease has one owner, an execution started twice by name is one execution. They stand in for AWS,
never for our own code: the service, its batching and its repair run unchanged on them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pipeline.contracts.errors import ManifestNotReadable
from pipeline.contracts.manifest import Manifest, manifest_object_key, s3_url
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
from pipeline.control_plane.domain.keys import pending_shard, pending_sort_key
from pipeline.control_plane.domain.states import (
    FileStatus,
    ManifestStatus,
    effective_file_status,
    manifest_sources_for,
)


@dataclass
class FakeTrackingStore:
    pending_shards: int = 2
    files: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    leases: dict[str, tuple[str, int]] = field(default_factory=dict)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)
    manifests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def put_new_file(self, record: FileRecord, ttl: int) -> bool:
        key = (record.date_prefix, record.file_key)
        if key in self.files:
            return False
        self.files[key] = {
            **record.__dict__,
            "status": FileStatus.PENDING,
            "pending_shard": pending_shard(record.file_key, self.pending_shards),
            "pending_key": pending_sort_key(record.date_prefix, record.created_at),
        }
        return True

    def _pending(self, shard: str) -> list[PendingFile]:
        found = [
            f
            for f in self.files.values()
            if f["status"] == FileStatus.PENDING and f["pending_shard"] == shard
        ]
        # As the real pending-index projection: no version_id (the claim's own write returns it).
        fields = set(PendingFile.__dataclass_fields__) - {"version_id"}
        return sorted(
            (PendingFile(**{k: v for k, v in f.items() if k in fields}) for f in found),
            key=lambda p: p.pending_key,
        )

    def query_pending(
        self, shard: str, date_prefix: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[PendingFile], dict[str, Any] | None]:
        rows = [p for p in self._pending(shard) if p.pending_key.startswith(f"{date_prefix}#")]
        if start_key:
            rows = [p for p in rows if p.pending_key > start_key["pending_key"]]
        page = rows[:limit]
        return page, ({"pending_key": page[-1].pending_key} if len(rows) > limit else None)

    def first_pending_after(self, shard: str, after: str | None) -> PendingFile | None:
        rows = [p for p in self._pending(shard) if not after or p.pending_key > f"{after}#\uffff"]
        return rows[0] if rows else None

    def claim_file(
        self, date_prefix: str, file_key: str, manifest_id: str, now: str, ttl: int
    ) -> ClaimedVersion | None:
        f = self.files.get((date_prefix, file_key))
        if f is None or f["status"] != FileStatus.PENDING:
            return None
        f.update(status=FileStatus.MANIFESTED, manifest_id=manifest_id, pending_shard=None, pending_key=None)
        return ClaimedVersion(f.get("version_id"))

    def release_file(
        self, date_prefix: str, file_key: str, created_at: str, manifest_id: str, now: str, ttl: int
    ) -> bool:
        f = self.files.get((date_prefix, file_key))
        if f is None or f["status"] != FileStatus.MANIFESTED or f.get("manifest_id") != manifest_id:
            return False
        f.update(
            status=FileStatus.PENDING,
            manifest_id=None,
            pending_shard=pending_shard(file_key, self.pending_shards),
            pending_key=pending_sort_key(date_prefix, created_at),
        )
        return True

    def query_manifest_files(self, manifest_id: str, page_size: int = 200) -> Iterator[ClaimedFile]:
        for (date_prefix, file_key), f in sorted(self.files.items()):
            if f.get("manifest_id") == manifest_id:
                yield ClaimedFile(date_prefix, file_key, str(f["status"]), f["created_at"], f["size"])

    def status_of(self, date_prefix: str, file_key: str) -> str | None:
        """A file's status as every reader shows it (completion by reference, through the one owner)."""
        f = self.files[(date_prefix, file_key)]
        manifest = (
            self.manifests.get((date_prefix, str(f.get("manifest_id")))) if f.get("manifest_id") else None
        )
        return effective_file_status(str(f["status"]), manifest.get("status") if manifest else None)

    def add_pending(self, date_prefix: str, count: int, total_bytes: int, now: str, ttl: int) -> Counter:
        seen = self.get_counter(date_prefix)
        self.counters[date_prefix] = Counter(
            seen.pending_count + count, seen.pending_bytes + total_bytes, seen.ver + 1
        )
        return self.counters[date_prefix]

    def get_counter(self, date_prefix: str) -> Counter:
        return self.counters.get(date_prefix, Counter(0, 0, 0))

    def correct_counter(
        self, date_prefix: str, seen: Counter, count: int, total_bytes: int, now: str
    ) -> bool:
        if self.get_counter(date_prefix).ver != seen.ver:
            return False
        self.counters[date_prefix] = Counter(count, total_bytes, seen.ver + 1)
        return True

    def acquire_lease(self, date_prefix: str, owner: str, now_epoch: int, until_epoch: int) -> bool:
        held = self.leases.get(date_prefix)
        if held and held[0] != owner and held[1] >= now_epoch:
            return False
        self.leases[date_prefix] = (owner, until_epoch)
        return True

    def release_lease(self, date_prefix: str, owner: str) -> None:
        if self.leases.get(date_prefix, ("", 0))[0] == owner:
            del self.leases[date_prefix]

    def put_claim(self, date_prefix: str, manifest_id: str, now: str, ttl: int) -> None:
        assert (date_prefix, manifest_id) not in self.claims, "the claim exists (ConditionalCheckFailed)"
        self.claims[(date_prefix, manifest_id)] = now

    def delete_claim(self, date_prefix: str, manifest_id: str) -> None:
        self.claims.pop((date_prefix, manifest_id), None)

    def open_claims_before(self, cutoff: str, limit: int) -> list[OpenClaim]:
        rows = sorted((at, d, m) for (d, m), at in self.claims.items() if at < cutoff)
        return [OpenClaim(d, m, at) for at, d, m in rows[:limit]]

    def record_manifest(self, started: StartedManifest, now: str, ttl: int) -> bool:
        item = self.manifests.setdefault(
            (started.date_prefix, started.manifest_id), {"status": ManifestStatus.PENDING}
        )
        first = "execution_arn" not in item
        item.update(
            execution_arn=started.execution_arn,
            manifest_path=started.manifest_path,
            file_count=started.file_count,
            total_bytes=started.total_bytes,
        )
        # open-manifests-index: set in the same write unless the status update came first and completed it
        if started.oldest_created_at and item["status"] != ManifestStatus.COMPLETED:
            item.setdefault("open_since", started.oldest_created_at)
        return first

    def oldest_open_manifest(self) -> str | None:
        return min((i["open_since"] for i in self.manifests.values() if "open_since" in i), default=None)

    def get_manifest(self, date_prefix: str, manifest_id: str) -> ManifestRecord | None:
        item = self.manifests.get((date_prefix, manifest_id))
        if item is None:
            return None
        return ManifestRecord(
            date_prefix,
            manifest_id,
            item.get("status"),
            item.get("execution_arn"),
            item.get("manifest_path"),
            item.get("file_count", 0),
            item.get("total_bytes", 0),
        )

    def finalize_manifest(
        self, date_prefix: str, manifest_id: str, verdict: Verdict, now: str, ttl: int
    ) -> bool:
        item = self.manifests.setdefault((date_prefix, manifest_id), {})
        if "status" in item and item["status"] not in manifest_sources_for(verdict.status):
            return False
        item.update(verdict.report, status=verdict.status, error=verdict.error, cause=verdict.cause)
        item["job_error"] = verdict.job_error
        if verdict.status == ManifestStatus.COMPLETED:
            item.pop("open_since", None)  # the completion update REMOVEs it (failed ones stay open)
        return True


@dataclass
class FakeManifestStore:
    bucket: str = "manifests"
    prefix: str = "manifests/"
    objects: dict[str, Manifest] = field(default_factory=dict)
    # Paths S3 answers 403 for (a missing key read by a role without s3:ListBucket).
    forbidden: set[str] = field(default_factory=set)

    def path_for(self, date_prefix: str, manifest_id: str) -> str:
        return s3_url(self.bucket, manifest_object_key(self.prefix, date_prefix, manifest_id))

    def put(self, manifest: Manifest) -> str:
        path = self.path_for(manifest.date_prefix, manifest.manifest_id)
        self.objects[path] = manifest
        return path

    def get(self, path: str) -> Manifest | None:
        if path in self.forbidden:
            raise ManifestNotReadable(f"S3 answered 403 for the manifest {path}")
        return self.objects.get(path)

    def delete(self, path: str) -> None:
        self.objects.pop(path, None)


@dataclass
class FakeExecutions:
    """Step Functions by name: starting a name twice returns the same execution. ``fail_next`` makes the next
    start raise that error (the execution then does not exist)."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: Exception | None = None

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.started.setdefault(name, payload)
        return f"arn:aws:states:us-east-1:123456789012:execution:fake:{name}"

    def find(self, name: str) -> str | None:
        return (
            f"arn:aws:states:us-east-1:123456789012:execution:fake:{name}" if name in self.started else None
        )


@dataclass
class FakeCatalog:
    registered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def register(self, date_prefix: str, report: dict[str, Any]) -> Any:
        self.registered.append((date_prefix, report))
        return None
