"""Reads the oldest pending files of one date from the sharded pending index, lazily and within a read budget."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pipeline.control_plane.adapters.tracking_records import PendingFile
from pipeline.control_plane.domain.times import parse_iso
from pipeline.control_plane.ports import TrackingStore

MAX_DATES_PER_SHARD = 31  # dates of pending files one flush (or `status --watch`) looks at per shard


def dates_with_pending(table: TrackingStore, max_dates_per_shard: int) -> list[str]:
    """Dates holding pending files, oldest first: one ``Limit 1`` query per shard and date, no scan."""
    return pending_overview(table, max_dates_per_shard)[0]


def pending_overview(table: TrackingStore, max_dates_per_shard: int) -> tuple[list[str], str | None]:
    """(dates holding pending files oldest first, the oldest pending file's ``created_at`` or None), from the
    same ``Limit 1`` queries: the first item of a shard and date is its oldest file (the index key is
    ``<date>#<created_at>``), so the oldest of those is the oldest pending file of the dates read."""
    dates: set[str] = set()
    oldest: str | None = None
    for n in range(table.pending_shards):
        after: str | None = None
        for _ in range(max_dates_per_shard):
            first = table.first_pending_after(f"P{n}", after)
            if first is None:
                break
            dates.add(first.date_prefix)
            if oldest is None or first.created_at < oldest:
                oldest = first.created_at
            after = first.date_prefix
    return sorted(dates), oldest


def pending_freshness(
    table: TrackingStore, now: datetime, max_dates_per_shard: int = MAX_DATES_PER_SHARD
) -> tuple[list[str], float]:
    """(dates holding pending files, the freshness): the seconds since the oldest ``created_at`` of a landed
    line not yet queryable: the oldest pending file's, or the oldest file's of a manifest started and not
    completed (one more ``Limit 1`` query, of ``open-manifests-index``), whichever is older; 0 when neither
    exists. The one definition of the OldestPendingAgeSeconds metric the flush emits, which
    `pipeline status --watch` shows too."""
    dates, oldest_pending = pending_overview(table, max_dates_per_shard)
    candidates = [c for c in (oldest_pending, table.oldest_open_manifest()) if c]
    oldest = min(candidates) if candidates else None
    return dates, max(0.0, (now - parse_iso(oldest)).total_seconds()) if oldest else 0.0


class PendingReader:
    """Hands out pending files of ``date_prefix`` roughly oldest first, reading each shard page by page with
    ``Limit`` so that no more than ``read_budget`` items are read in all."""

    def __init__(self, table: TrackingStore, date_prefix: str, read_budget: int) -> None:
        self._table = table
        self._date = date_prefix
        self._budget = read_budget
        self.items_read = 0
        self._buffer: list[PendingFile] = []
        shards = [f"P{n}" for n in range(table.pending_shards)]
        # shard -> start key of its next page; None when the shard has not been read yet
        self._cursor: dict[str, dict[str, Any] | None] = dict.fromkeys(shards)
        self._exhausted: set[str] = set()

    @property
    def exhausted(self) -> bool:
        """Every shard read to its end: what was handed out is all the date had pending."""
        return not self._buffer and len(self._exhausted) == len(self._cursor)

    @property
    def budget_left(self) -> int:
        return self._budget - self.items_read

    def take(self, wanted: int) -> list[PendingFile]:
        """Up to ``wanted`` more files (fewer when the date or the read budget runs out)."""
        while len(self._buffer) < wanted and self.budget_left > 0:
            active = [shard for shard in self._cursor if shard not in self._exhausted]
            if not active:
                break
            per_shard = max(1, math.ceil((wanted - len(self._buffer)) / len(active)))
            for shard in active:
                limit = min(per_shard, self.budget_left)
                if limit <= 0:
                    break
                files, next_key = self._table.query_pending(shard, self._date, limit, self._cursor[shard])
                self.items_read += len(files)
                self._buffer.extend(files)
                if next_key is None:
                    self._exhausted.add(shard)
                else:
                    self._cursor[shard] = next_key
        self._buffer.sort(key=lambda f: (f.pending_key, f.file_key))
        handed, self._buffer = self._buffer[:wanted], self._buffer[wanted:]
        return handed
