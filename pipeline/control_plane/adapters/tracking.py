"""DynamoDB adapter of the tracking table (docs/tracking-table.md): every read and write the control plane makes.

Conditional writes make each step idempotent; every query has a ``Limit``. Names of attributes and indexes live
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code
from pipeline.control_plane.domain.keys import (
    FILE_KEY_PREFIX,
    date_of_pending_key,
    pending_shard,
    pending_sort_key,
)
from pipeline.control_plane.domain.states import FileStatus, ManifestStatus

PENDING_INDEX = "pending-index"
MANIFEST_INDEX = "manifest-index"
OPEN_CLAIMS_INDEX = "open-claims-index"
COUNTER_KEY = "META#PENDING"
LEASE_KEY = "META#LEASE"
MANIFEST_KEY_PREFIX = "MANIFEST#"
CLAIM_KEY_PREFIX = "CLAIM#"
OPEN_CLAIM = "OPEN"
MAX_CAUSE_CHARS = 4000
REPORT_COUNTS = ("records_in", "records_out", "bad_records", "bytes_in", "bytes_out")


def manifest_item_key(manifest_id: str) -> str:
    return f"{MANIFEST_KEY_PREFIX}{manifest_id}"


def claim_item_key(manifest_id: str) -> str:
    return f"{CLAIM_KEY_PREFIX}{manifest_id}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _get_s(item: dict[str, Any], name: str, default: str = "") -> str:
    return str(item[name]["S"]) if name in item else default


def _get_n(item: dict[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


@dataclass(frozen=True)
class FileRecord:
    date_prefix: str
    file_key: str
    bucket: str
    key: str
    size: int
    etag: str
    created_at: str


@dataclass(frozen=True)
class PendingFile:
    date_prefix: str
    file_key: str
    bucket: str
    key: str
    size: int
    etag: str
    created_at: str
    pending_shard: str
    pending_key: str


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
class ManifestRecord:
    date_prefix: str
    manifest_id: str
    status: str | None
    execution_arn: str | None
    manifest_path: str | None
    file_count: int
    total_bytes: int


class TrackingTable:
    def __init__(self, client: Any, table_name: str, retry: RetryPolicy, pending_shards: int) -> None:
        self._client = client
        self._table = table_name
        self._retry = retry
        self.pending_shards = pending_shards

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, operation)
        kwargs.setdefault("ReturnConsumedCapacity", "TOTAL")
        return self._retry.call(lambda: method(TableName=self._table, **kwargs))

    def _conditional(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """Run a conditional write; None when its condition did not hold."""
        try:
            return self._call(operation, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise

    @staticmethod
    def _key(date_prefix: str, file_key: str) -> dict[str, Any]:
        return {"date_prefix": _s(date_prefix), "file_key": _s(file_key)}

    # -- files ------------------------------------------------------------------------------------------------
    def put_new_file(self, record: FileRecord, ttl: int) -> bool:
        """Track a file once: True if new, False for a duplicate (same bucket, key and etag)."""
        item = {
            **self._key(record.date_prefix, record.file_key),
            "status": _s(FileStatus.PENDING),
            "bucket": _s(record.bucket),
            "key": _s(record.key),
            "size": _n(record.size),
            "etag": _s(record.etag),
            "created_at": _s(record.created_at),
            "updated_at": _s(record.created_at),
            "pending_shard": _s(pending_shard(record.file_key, self.pending_shards)),
            "pending_key": _s(pending_sort_key(record.date_prefix, record.created_at)),
            "ttl": _n(ttl),
        }
        result = self._conditional(
            "put_item", Item=item, ConditionExpression="attribute_not_exists(file_key)"
        )
        return result is not None

    def get_file(self, date_prefix: str, file_key: str) -> dict[str, Any] | None:
        response = self._call("get_item", Key=self._key(date_prefix, file_key), ConsistentRead=True)
        return response.get("Item")

    def query_pending(
        self, shard: str, date_prefix: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[PendingFile], dict[str, Any] | None]:
        """Oldest pending files of a date on one shard of the sparse pending index."""
        kwargs: dict[str, Any] = {
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "pending_shard = :shard AND begins_with(pending_key, :day)",
            "ExpressionAttributeValues": {":shard": _s(shard), ":day": _s(f"{date_prefix}#")},
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self._call("query", **kwargs)
        files = [self._pending_file(item) for item in response.get("Items", [])]
        return files, response.get("LastEvaluatedKey")

    def first_pending_after(self, shard: str, after: str | None) -> PendingFile | None:
        """The oldest pending file of the earliest date after ``after`` (a date) on a shard."""
        values: dict[str, Any] = {":shard": _s(shard)}
        condition = "pending_shard = :shard"
        if after:
            condition += " AND pending_key > :after"
            values[":after"] = _s(f"{after}#\uffff")
        response = self._call(
            "query",
            IndexName=PENDING_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=1,
        )
        items = response.get("Items", [])
        return self._pending_file(items[0]) if items else None

    @staticmethod
    def _pending_file(item: dict[str, Any]) -> PendingFile:
        pending_key = _get_s(item, "pending_key")
        return PendingFile(
            date_prefix=_get_s(item, "date_prefix") or date_of_pending_key(pending_key),
            file_key=_get_s(item, "file_key"),
            bucket=_get_s(item, "bucket"),
            key=_get_s(item, "key"),
            size=_get_n(item, "size"),
            etag=_get_s(item, "etag"),
            created_at=_get_s(item, "created_at"),
            pending_shard=_get_s(item, "pending_shard"),
            pending_key=pending_key,
        )

    def claim_file(self, date_prefix: str, file_key: str, manifest_id: str, now: str, ttl: int) -> bool:
        """pending -> manifested for one manifest; False when someone else got there first."""
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, file_key),
            UpdateExpression=(
                "SET #status = :manifested, manifest_id = :m, claimed_at = :now, updated_at = :now, #ttl = :ttl "
                "REMOVE pending_shard, pending_key"
            ),
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":manifested": _s(FileStatus.MANIFESTED),
                ":pending": _s(FileStatus.PENDING),
                ":m": _s(manifest_id),
                ":now": _s(now),
                ":ttl": _n(ttl),
            },
        )
        return result is not None

    def release_file(
        self, date_prefix: str, file_key: str, created_at: str, manifest_id: str, now: str, ttl: int
    ) -> bool:
        """manifested -> pending, only while still claimed by ``manifest_id``; back at its original age."""
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, file_key),
            UpdateExpression=(
                "SET #status = :pending, updated_at = :now, #ttl = :ttl, pending_shard = :shard, pending_key = :pk "
                "REMOVE manifest_id, claimed_at"
            ),
            ConditionExpression="#status = :manifested AND manifest_id = :m",
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":manifested": _s(FileStatus.MANIFESTED),
                ":pending": _s(FileStatus.PENDING),
                ":m": _s(manifest_id),
                ":now": _s(now),
                ":ttl": _n(ttl),
                ":shard": _s(pending_shard(file_key, self.pending_shards)),
                ":pk": _s(pending_sort_key(date_prefix, created_at)),
            },
        )
        return result is not None

    def query_manifest_files(self, manifest_id: str, page_size: int = 200) -> Iterator[ClaimedFile]:
        """The files claimed by one manifest, page by page (never more than one page in memory)."""
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "IndexName": MANIFEST_INDEX,
                "KeyConditionExpression": "manifest_id = :m AND begins_with(file_key, :f)",
                "ExpressionAttributeValues": {":m": _s(manifest_id), ":f": _s(FILE_KEY_PREFIX)},
                "Limit": page_size,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._call("query", **kwargs)
            for item in response.get("Items", []):
                yield ClaimedFile(
                    date_prefix=_get_s(item, "date_prefix"),
                    file_key=_get_s(item, "file_key"),
                    status=_get_s(item, "status"),
                    created_at=_get_s(item, "created_at"),
                    size=_get_n(item, "size"),
                )
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def finish_files(
        self,
        date_prefix: str,
        file_keys: list[str],
        manifest_id: str,
        status: FileStatus,
        now: str,
        ttl: int,
        error: str | None,
    ) -> int:
        """manifested|completed|failed -> ``status`` for files of this manifest, one conditional update each
        (1 WCU per file; a transaction would cost 2, and moto copies whole tables for each one). Returns how many
        files are now in ``status``."""
        done = 0
        for file_key in file_keys:
            update = self._finish_update(date_prefix, file_key, manifest_id, status, now, ttl, error)
            if self._conditional("update_item", **update) is not None:
                done += 1
        return done

    def _finish_update(
        self,
        date_prefix: str,
        file_key: str,
        manifest_id: str,
        status: FileStatus,
        now: str,
        ttl: int,
        error: str | None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":target": _s(status),
            ":m": _s(manifest_id),
            ":now": _s(now),
            ":ttl": _n(ttl),
            ":manifested": _s(FileStatus.MANIFESTED),
            ":completed": _s(FileStatus.COMPLETED),
            ":failed": _s(FileStatus.FAILED),
        }
        expression = "SET #status = :target, updated_at = :now, #ttl = :ttl"
        if error:
            expression += ", #error = :error"
            values[":error"] = _s(error)
        else:
            expression += " REMOVE #error"
        return {
            "Key": self._key(date_prefix, file_key),
            "UpdateExpression": expression,
            "ConditionExpression": "manifest_id = :m AND #status IN (:manifested, :completed, :failed)",
            "ExpressionAttributeNames": {"#status": "status", "#ttl": "ttl", "#error": "error"},
            "ExpressionAttributeValues": values,
        }

    # -- per-date counter and lease ---------------------------------------------------------------------------
    def add_pending(self, date_prefix: str, count: int, total_bytes: int, now: str, ttl: int) -> Counter:
        response = self._call(
            "update_item",
            Key=self._key(date_prefix, COUNTER_KEY),
            UpdateExpression="ADD pending_count :c, pending_bytes :b, ver :one SET updated_at = :now, #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":c": _n(count),
                ":b": _n(total_bytes),
                ":one": _n(1),
                ":now": _s(now),
                ":ttl": _n(ttl),
            },
            ReturnValues="ALL_NEW",
        )
        return self._counter(response.get("Attributes", {}))

    def get_counter(self, date_prefix: str) -> Counter:
        response = self._call("get_item", Key=self._key(date_prefix, COUNTER_KEY), ConsistentRead=True)
        return self._counter(response.get("Item", {}))

    def correct_counter(
        self, date_prefix: str, seen: Counter, count: int, total_bytes: int, now: str
    ) -> bool:
        """Set the hint to what the pending index showed, unless the counter moved since it was read."""
        condition = "ver = :ver" if seen.ver else "attribute_not_exists(ver)"
        values: dict[str, Any] = {
            ":c": _n(count),
            ":b": _n(total_bytes),
            ":now": _s(now),
            ":next": _n(seen.ver + 1),
        }
        if seen.ver:
            values[":ver"] = _n(seen.ver)
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, COUNTER_KEY),
            UpdateExpression="SET pending_count = :c, pending_bytes = :b, ver = :next, updated_at = :now",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        return result is not None

    @staticmethod
    def _counter(item: dict[str, Any]) -> Counter:
        return Counter(_get_n(item, "pending_count"), _get_n(item, "pending_bytes"), _get_n(item, "ver"))

    def acquire_lease(self, date_prefix: str, owner: str, now_epoch: int, until_epoch: int) -> bool:
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, LEASE_KEY),
            UpdateExpression="SET #owner = :owner, lease_until = :until",
            ConditionExpression="attribute_not_exists(#owner) OR lease_until < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": _s(owner), ":until": _n(until_epoch), ":now": _n(now_epoch)},
        )
        return result is not None

    def release_lease(self, date_prefix: str, owner: str) -> None:
        self._conditional(
            "update_item",
            Key=self._key(date_prefix, LEASE_KEY),
            UpdateExpression="REMOVE #owner, lease_until",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": _s(owner)},
        )

    # -- claims (intent records) ------------------------------------------------------------------------------
    def put_claim(self, date_prefix: str, manifest_id: str, now: str, ttl: int) -> None:
        self._call(
            "put_item",
            Item={
                **self._key(date_prefix, claim_item_key(manifest_id)),
                "manifest_id": _s(manifest_id),
                "claimed_at": _s(now),
                "claim_open": _s(OPEN_CLAIM),
                "ttl": _n(ttl),
            },
            ConditionExpression="attribute_not_exists(file_key)",
        )

    def delete_claim(self, date_prefix: str, manifest_id: str) -> None:
        self._call("delete_item", Key=self._key(date_prefix, claim_item_key(manifest_id)))

    def open_claims_before(self, cutoff: str, limit: int) -> list[OpenClaim]:
        response = self._call(
            "query",
            IndexName=OPEN_CLAIMS_INDEX,
            KeyConditionExpression="claim_open = :open AND claimed_at < :cutoff",
            ExpressionAttributeValues={":open": _s(OPEN_CLAIM), ":cutoff": _s(cutoff)},
            Limit=limit,
        )
        return [
            OpenClaim(_get_s(i, "date_prefix"), _get_s(i, "manifest_id"), _get_s(i, "claimed_at"))
            for i in response.get("Items", [])
        ]

    # -- MANIFEST items ---------------------------------------------------------------------------------------
    def record_manifest(
        self,
        date_prefix: str,
        manifest_id: str,
        execution_arn: str,
        manifest_path: str,
        file_count: int,
        total_bytes: int,
        now: str,
        ttl: int,
    ) -> bool:
        """Write the MANIFEST item after the execution started. Never overwrites a status the state machine
        already set. True if this call recorded it, False if it had been recorded before."""
        response = self._call(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression=(
                "SET #status = if_not_exists(#status, :pending), manifest_id = :m, execution_arn = :arn, "
                "manifest_path = :path, file_count = :count, total_bytes = :bytes, "
                "created_at = if_not_exists(created_at, :now), updated_at = :now, #ttl = :ttl"
            ),
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={
                ":pending": _s(ManifestStatus.PENDING),
                ":m": _s(manifest_id),
                ":arn": _s(execution_arn),
                ":path": _s(manifest_path),
                ":count": _n(file_count),
                ":bytes": _n(total_bytes),
                ":now": _s(now),
                ":ttl": _n(ttl),
            },
            ReturnValues="UPDATED_OLD",
        )
        return "execution_arn" not in response.get("Attributes", {})

    def get_manifest(self, date_prefix: str, manifest_id: str) -> ManifestRecord | None:
        response = self._call(
            "get_item", Key=self._key(date_prefix, manifest_item_key(manifest_id)), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return ManifestRecord(
            date_prefix=date_prefix,
            manifest_id=manifest_id,
            status=_get_s(item, "status") or None,
            execution_arn=_get_s(item, "execution_arn") or None,
            manifest_path=_get_s(item, "manifest_path") or None,
            file_count=_get_n(item, "file_count"),
            total_bytes=_get_n(item, "total_bytes"),
        )

    def finalize_manifest(
        self,
        date_prefix: str,
        manifest_id: str,
        status: ManifestStatus,
        now: str,
        ttl: int,
        error: str | None,
        cause: str | None,
        report: dict[str, int],
        job_error: str | None = None,
    ) -> bool:
        """Set the final status and the job report counts; False when the item is already final otherwise."""
        names = {"#status": "status", "#ttl": "ttl"}
        values: dict[str, Any] = {
            ":target": _s(status),
            ":now": _s(now),
            ":ttl": _n(ttl),
            ":m": _s(manifest_id),
            ":pending": _s(ManifestStatus.PENDING),
            ":processing": _s(ManifestStatus.PROCESSING),
        }
        sets = [
            "#status = :target",
            "completed_at = :now",
            "updated_at = :now",
            "#ttl = :ttl",
            "manifest_id = :m",
        ]
        removes = []
        for name, value in (("error", error), ("cause", cause), ("job_error", job_error)):
            names[f"#{name}"] = name
            if value:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = _s(value[:MAX_CAUSE_CHARS])
            else:
                removes.append(f"#{name}")
        for name, number in report.items():
            sets.append(f"{name} = :r_{name}")
            values[f":r_{name}"] = _n(number)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression=expression,
            ConditionExpression="attribute_not_exists(#status) OR #status IN (:pending, :processing, :target)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return result is not None
