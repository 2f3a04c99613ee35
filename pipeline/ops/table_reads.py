"""Operator reads of the tracking table that the control plane's adapter (`pipeline.control_plane.adapters.tracking`)
lacks; every write goes through the adapter.

Kinds of item come from `pipeline.control_plane.domain.items`, index names from the adapter
(`adapters/tracking_records.py`), items are decoded by the adapter's `codec.plain`, times by `domain/times.py`:
nothing here is a second definition of the table. Operator reads may walk one date's partition (a query on
`date_prefix`, paginated): the control plane never does, an operator asking about a date does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.control_plane.adapters.codec import plain
from pipeline.control_plane.adapters.tracking_records import PENDING_INDEX
from pipeline.control_plane.domain.items import (
    CLAIM_KEY_PREFIX,
    FILE_KEY_PREFIX,
    MANIFEST_KEY_PREFIX,
    REPLAY_KEY_PREFIX,
    id_of,
)
from pipeline.control_plane.domain.keys import date_of_pending_key
from pipeline.control_plane.domain.states import effective_file_status
from pipeline.control_plane.domain.times import age_seconds as age_seconds  # `pipeline status` reads it here


@dataclass
class DateItems:
    """Everything one date's partition holds, sorted by kind."""

    date_prefix: str
    files: list[dict[str, Any]] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)


def query_date(ddb: Any, table: str, date_prefix: str, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every item of one date, page by page (consistent reads: an operator wants the truth, not a hint)."""
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "date_prefix = :d",
            "ExpressionAttributeValues": {":d": {"S": date_prefix}},
            "ConsistentRead": True,
            "Limit": page_size,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = ddb.query(**kwargs)
        for item in response.get("Items", []):
            yield plain(item)
        start = response.get("LastEvaluatedKey")
        if not start:
            return


STORED_STATUS = "stored_status"  # the file item's own status, next to the derived one in `status`


def with_derived_status(
    files: list[dict[str, Any]], manifests: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every reader's view of file items (plain dictionaries, changed in place and returned): ``status`` becomes the
    status the file has (``domain/states.effective_file_status``: a `manifested` file of a final manifest has the
    manifest's status) and ``stored_status`` keeps the item's own. ``manifests`` are the MANIFEST items the files
    name (more do no harm), matched on (date_prefix, manifest_id)."""
    status_of = {
        (str(m.get("date_prefix")), str(m.get("manifest_id") or id_of(str(m.get("file_key", ""))))): m.get(
            "status"
        )
        for m in manifests
    }
    for item in files:
        stored = item.get(STORED_STATUS, item.get("status"))
        item[STORED_STATUS] = stored
        manifest_id = item.get("manifest_id")
        manifest_status = (
            status_of.get((str(item.get("date_prefix")), str(manifest_id))) if manifest_id else None
        )
        item["status"] = effective_file_status(stored, manifest_status)
    return files


def read_date(ddb: Any, table: str, date_prefix: str) -> DateItems:
    """One date's partition by kind; its file items carry their derived ``status`` (``with_derived_status``)."""
    items = DateItems(date_prefix)
    for item in query_date(ddb, table, date_prefix):
        key = str(item.get("file_key", ""))
        if key.startswith(FILE_KEY_PREFIX):
            items.files.append(item)
        elif key.startswith(MANIFEST_KEY_PREFIX):
            items.manifests.append(item)
        elif key.startswith(CLAIM_KEY_PREFIX):
            items.claims.append(item)
        elif key.startswith(REPLAY_KEY_PREFIX):
            items.replays.append(item)
        else:
            items.other.append(item)
    with_derived_status(items.files, items.manifests)
    return items


def pending_dates(ddb: Any, table: str, shards: int, limit_dates: int = 366) -> list[str]:
    """Dates holding pending files, from the sparse pending index: a `Limit 1` query per shard and date."""
    dates: set[str] = set()
    for shard in range(shards):
        after: str | None = None
        for _ in range(limit_dates):
            values: dict[str, Any] = {":s": {"S": f"P{shard}"}}
            condition = "pending_shard = :s"
            if after:
                condition += " AND pending_key > :a"
                values[":a"] = {"S": f"{after}#\uffff"}
            response = ddb.query(
                TableName=table,
                IndexName=PENDING_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                Limit=1,
            )
            found = response.get("Items", [])
            if not found:
                break
            after = date_of_pending_key(str(found[0]["pending_key"]["S"]))
            dates.add(after)
    return sorted(dates)


def oldest_pending(ddb: Any, table: str, shards: int) -> dict[str, Any] | None:
    """The oldest pending file over all dates (pending keys sort by date, then tracking time)."""
    best: dict[str, Any] | None = None
    for shard in range(shards):
        response = ddb.query(
            TableName=table,
            IndexName=PENDING_INDEX,
            KeyConditionExpression="pending_shard = :s",
            ExpressionAttributeValues={":s": {"S": f"P{shard}"}},
            Limit=1,
        )
        for raw in response.get("Items", []):
            item = plain(raw)
            if best is None or str(item.get("created_at", "")) < str(best.get("created_at", "")):
                best = item
    return best


def recent_dates(days: int, today: datetime | None = None) -> list[str]:
    now = today or datetime.now(UTC)
    return [(now - timedelta(days=offset)).date().isoformat() for offset in range(days)]
