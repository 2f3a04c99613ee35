"""S3 key handling (pure): URL-decoding, date-prefix extraction, accepted suffixes, collision-free file keys."""

from __future__ import annotations

import hashlib
import re
import zlib
from datetime import UTC, date, datetime
from urllib.parse import unquote_plus

from pipeline.control_plane.domain.items import FILE_KEY_PREFIX

MAX_SORT_KEY_BYTES = 1024

_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DT_DAY = re.compile(r"^(?:dt|date)=(\d{4})-(\d{2})-(\d{2})$", re.IGNORECASE)
_YEAR = re.compile(r"^year=(\d{4})$", re.IGNORECASE)
_MONTH = re.compile(r"^month=(\d{1,2})$", re.IGNORECASE)
_DAY = re.compile(r"^day=(\d{1,2})$", re.IGNORECASE)


def decode_s3_key(raw: str) -> str:
    """S3 event keys are form-encoded (``+`` for space, ``%xx``): return the real object key."""
    return unquote_plus(raw)


def _valid_day(year: str, month: str, day: str) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def extract_date_prefix(key: str, fallback: datetime) -> str:
    """The batch date of an object key: the first path segment that is ``YYYY-MM-DD``, ``dt=YYYY-MM-DD``
    (or ``date=``), or the start of ``year=YYYY/month=MM/day=DD``; failing those the UTC date of ``fallback``.
    Impossible dates (2026-02-30) are not dates.
    """
    segments = key.split("/")[:-1]  # folders only: a file name is not a partition
    for index, segment in enumerate(segments):
        match = _ISO_DAY.match(segment) or _DT_DAY.match(segment)
        if match and (day := _valid_day(*match.groups())):
            return day
        year = _YEAR.match(segment)
        if year and index + 2 < len(segments):
            month = _MONTH.match(segments[index + 1])
            day_match = _DAY.match(segments[index + 2])
            if month and day_match and (day := _valid_day(year.group(1), month.group(1), day_match.group(1))):
                return day
    if fallback.tzinfo is None:  # naive means UTC here
        return fallback.date().isoformat()
    return fallback.astimezone(UTC).date().isoformat()


def make_file_key(bucket: str, key: str, etag: str) -> str:
    """``F#<bucket>/<key>#<etag>``: one item per object content. Cut with a hash when over 1,024 bytes."""
    tail = f"#{etag}"
    full = f"{FILE_KEY_PREFIX}{bucket}/{key}{tail}"
    if len(full.encode("utf-8")) <= MAX_SORT_KEY_BYTES:
        return full
    digest = "~" + hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
    budget = (
        MAX_SORT_KEY_BYTES - len(f"{FILE_KEY_PREFIX}{bucket}/".encode()) - len(digest) - len(tail.encode())
    )
    cut = key.encode("utf-8")[: max(budget, 0)].decode("utf-8", errors="ignore")
    return f"{FILE_KEY_PREFIX}{bucket}/{cut}{digest}{tail}"


def pending_shard(file_key: str, shards: int) -> str:
    """Stable shard of the pending index for a file: ``P<n>``."""
    return f"P{zlib.crc32(file_key.encode('utf-8')) % shards}"


def pending_sort_key(date_prefix: str, created_at: str) -> str:
    return f"{date_prefix}#{created_at}"


def date_of_pending_key(pending_key: str) -> str:
    return pending_key.split("#", 1)[0]
