"""What the tracking adapter hands out: the names of the table's indexes and attributes, and typed records
decoded from its items (through ``codec``). Nothing outside the adapters spells an index or attribute name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.control_plane.adapters.codec import get_n, get_s
from pipeline.control_plane.domain.keys import date_of_pending_key
from pipeline.control_plane.domain.states import ManifestStatus

PENDING_INDEX = "pending-index"
MANIFEST_INDEX = "manifest-index"
OPEN_CLAIMS_INDEX = "open-claims-index"
OPEN_CLAIM = "OPEN"
OPEN_MANIFESTS_INDEX = "open-manifests-index"
OPEN_MANIFEST = "OPEN"  # the one HASH value of open-manifests-index (a few manifests a minute: one partition)
MAX_CAUSE_CHARS = 4000


@dataclass(frozen=True)
class FileRecord:
    date_prefix: str
    file_key: str
    bucket: str
    key: str
    size: int
    etag: str
    created_at: str
    # The S3 object version the event named (None for an unversioned bucket): the manifest entry reads it.
    version_id: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class PendingFile(FileRecord):
    """A file as the sparse ``pending-index`` shows it."""

    pending_shard: str
    pending_key: str


@dataclass(frozen=True)
class ClaimedVersion:
    """A successful claim of one file, with the item's ``version_id`` as the claim's own write returned it
    (the pending index does not project it). Always truthy; a failed claim is None."""

    version_id: str | None


@dataclass(frozen=True)
class Counter:
    pending_count: int
    pending_bytes: int
    ver: int


@dataclass(frozen=True)
class ClaimedFile:
    """A file as ``manifest-index`` shows it."""

    date_prefix: str
    file_key: str
    status: str
    created_at: str
    size: int


@dataclass(frozen=True)
class OpenClaim:
    date_prefix: str
    manifest_id: str
    claimed_at: str


@dataclass(frozen=True)
class StartedManifest:
    """A manifest whose execution exists: what its MANIFEST item records."""

    date_prefix: str
    manifest_id: str
    execution_arn: str
    manifest_path: str
    file_count: int
    total_bytes: int
    # The oldest `created_at` of its files: the item is in open-manifests-index under it until completed.
    oldest_created_at: str | None = None


@dataclass(frozen=True)
class Verdict:
    """A manifest's final status and what the status update reported with it."""

    status: ManifestStatus
    error: str | None
    cause: str | None
    report: dict[str, int]
    job_error: str | None = None


@dataclass(frozen=True)
class ManifestRecord:
    date_prefix: str
    manifest_id: str
    status: str | None
    execution_arn: str | None
    manifest_path: str | None
    file_count: int
    total_bytes: int


def pending_file(item: dict[str, Any]) -> PendingFile:
    pending_key = get_s(item, "pending_key")
    return PendingFile(
        date_prefix=get_s(item, "date_prefix") or date_of_pending_key(pending_key),
        file_key=get_s(item, "file_key"),
        bucket=get_s(item, "bucket"),
        key=get_s(item, "key"),
        size=get_n(item, "size"),
        etag=get_s(item, "etag"),
        created_at=get_s(item, "created_at"),
        pending_shard=get_s(item, "pending_shard"),
        pending_key=pending_key,
    )


def version_of(item: dict[str, Any]) -> str | None:
    return get_s(item, "version_id") or None


def claimed_file(item: dict[str, Any]) -> ClaimedFile:
    return ClaimedFile(
        date_prefix=get_s(item, "date_prefix"),
        file_key=get_s(item, "file_key"),
        status=get_s(item, "status"),
        created_at=get_s(item, "created_at"),
        size=get_n(item, "size"),
    )


def counter(item: dict[str, Any]) -> Counter:
    return Counter(get_n(item, "pending_count"), get_n(item, "pending_bytes"), get_n(item, "ver"))


def open_claim(item: dict[str, Any]) -> OpenClaim:
    return OpenClaim(get_s(item, "date_prefix"), get_s(item, "manifest_id"), get_s(item, "claimed_at"))


def manifest_record(date_prefix: str, manifest_id: str, item: dict[str, Any]) -> ManifestRecord:
    return ManifestRecord(
        date_prefix=date_prefix,
        manifest_id=manifest_id,
        status=get_s(item, "status") or None,
        execution_arn=get_s(item, "execution_arn") or None,
        manifest_path=get_s(item, "manifest_path") or None,
        file_count=get_n(item, "file_count"),
        total_bytes=get_n(item, "total_bytes"),
    )
