"""Operator reads and writes of the tracking table that the control plane's adapter (`pipeline.control_plane.adapters.tracking`) lacks.

Names of items, attributes and indexes come from `pipeline.control_plane.adapters.tracking` and `pipeline.control_plane.domain.keys`; nothing here is a second
definition of the table. Operator reads may walk one date's partition (a query on `date_prefix`, paginated): the
control plane never does, an operator asking about a date does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from pipeline.control_plane.adapters.tracking import (
    CLAIM_KEY_PREFIX,
    MANIFEST_KEY_PREFIX,
    PENDING_INDEX,
)
from pipeline.control_plane.domain.keys import FILE_KEY_PREFIX

REPLAY_KEY_PREFIX = "REPLAY#"
_deserializer = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (numbers as int when whole)."""
    result: dict[str, Any] = {}
    for name, value in item.items():
        python = _deserializer.deserialize(value)
        if hasattr(python, "as_integer_ratio") and not isinstance(python, bool | float | int):
            python = int(python) if python == int(python) else float(python)
        elif isinstance(python, set):
            python = sorted(python)
        result[name] = python
    return result


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def age_seconds(text: str | None, now: datetime) -> float | None:
    moment = parse_time(text)
    return None if moment is None else max(0.0, (now - moment).total_seconds())


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


def read_date(ddb: Any, table: str, date_prefix: str) -> DateItems:
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
            after = str(found[0]["pending_key"]["S"]).split("#", 1)[0]
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
