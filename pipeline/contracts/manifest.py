"""Manifest model (pure): ids, S3 location, and the JSON the Glue job reads (docs/architecture.md)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.contracts.errors import InvalidEvent

MANIFEST_ID = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-f]{12}$")
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def new_manifest_id(date_prefix: str, now: datetime, token: str | None = None) -> str:
    """``<date>-<HHMMSS claim time UTC>-<12 hex>``: unique, sortable, a valid Step Functions execution name."""
    token = token or secrets.token_hex(6)
    manifest_id = f"{date_prefix}-{now.astimezone(UTC):%H%M%S}-{token}"
    if not MANIFEST_ID.fullmatch(manifest_id):
        raise ValueError(f"not a valid manifest id: {manifest_id!r}")
    return manifest_id


def is_manifest_id(value: str) -> bool:
    return bool(MANIFEST_ID.fullmatch(value))


def manifest_object_key(prefix: str, date_prefix: str, manifest_id: str) -> str:
    return f"{prefix}{date_prefix}/{manifest_id}.json"


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, key = url[5:].split("/", 1)
    return bucket, key


@dataclass(frozen=True)
class ManifestEntry:
    """One object to convert. ``version_id`` (optional) is the S3 object version the job reads: set when the
    input bucket is versioned, so the entry names one content even after the key is overwritten; absent, the
    job reads the key's current content (an unversioned bucket, as before versions were tracked)."""

    url: str
    content_length: int
    version_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "url": self.url,
            "mandatory": True,
            "meta": {"content_length": self.content_length},
        }
        if self.version_id is not None:
            entry["version_id"] = self.version_id
        return entry


TrackedObject = tuple[str, str, int] | tuple[str, str, int, str | None]  # (bucket, key, size[, version id])


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    date_prefix: str
    created_at: str
    entries: tuple[ManifestEntry, ...]

    @classmethod
    def build(
        cls, manifest_id: str, date_prefix: str, created_at: str, files: Iterable[TrackedObject]
    ) -> Manifest:
        """From ``(bucket, key, size[, version_id])`` tuples. Each tracked version is an entry of its own.
        Without a version, two tracked contents of one key (a re-upload) name the same object, which holds
        only the newest content: it is listed once."""
        entries: dict[tuple[str, str | None], ManifestEntry] = {}
        for bucket, key, size, *rest in files:
            version_id = rest[0] if rest else None
            url = s3_url(bucket, key)
            seen = entries.get((url, version_id))
            entries[(url, version_id)] = ManifestEntry(
                url, max(size, seen.content_length if seen else 0), version_id
            )
        return cls(manifest_id, date_prefix, created_at, tuple(entries.values()))

    @property
    def total_bytes(self) -> int:
        return sum(entry.content_length for entry in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_id": self.manifest_id,
            "date_prefix": self.date_prefix,
            "created_at": self.created_at,
            "entries": [entry.to_dict() for entry in self.entries],
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str) -> Manifest:
        try:
            data = json.loads(raw)
            entries = tuple(
                ManifestEntry(
                    str(e["url"]),
                    int(e.get("meta", {}).get("content_length", 0)),
                    _version_id(e.get("version_id")),
                )
                for e in data["entries"]
            )
            return cls(str(data["manifest_id"]), str(data["date_prefix"]), str(data["created_at"]), entries)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"manifest is not valid manifest JSON: {exc}") from None


def _version_id(value: Any) -> str | None:
    """An entry's ``version_id``: absent (None) or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError("version_id must be a non-empty string")
    return value
