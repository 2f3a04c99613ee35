"""DynamoDB adapter of the tracking table (docs/tracking-table.md): every read and write the control plane and
the operator commands make.

Conditional writes make each step idempotent; every query has a ``Limit``. Names of attributes and indexes live
in the adapter (``tracking_records``) and nowhere else; the kinds of item and their sort keys in
``domain/items.py``; the status conditions come from the transition tables of ``domain/states.py``. The table is
one class assembled from its parts: this module (files, the pending index, the per-date counter and lease, the
claims), ``tracking_manifests`` (MANIFEST items) and ``tracking_replays`` (REPLAY items).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.control_plane.adapters.codec import n, s, status_in
from pipeline.control_plane.adapters.tracking_manifests import ManifestItems
from pipeline.control_plane.adapters.tracking_records import (
    MANIFEST_INDEX,
    OPEN_CLAIM,
    OPEN_CLAIMS_INDEX,
    PENDING_INDEX,
    ClaimedFile,
    ClaimedVersion,
    Counter,
    FileRecord,
    OpenClaim,
    PendingFile,
    claimed_file,
    counter,
    open_claim,
    pending_file,
    version_of,
)
from pipeline.control_plane.adapters.tracking_replays import ReplayItems
from pipeline.control_plane.domain.items import COUNTER_KEY, FILE_KEY_PREFIX, LEASE_KEY, claim_item_key
from pipeline.control_plane.domain.keys import pending_shard, pending_sort_key
from pipeline.control_plane.domain.states import (
    FileStatus,
    file_sources_for,
    operator_file_sources_for,
)


class TrackingTable(ManifestItems, ReplayItems):
    # -- files ------------------------------------------------------------------------------------------------
    def put_new_file(self, record: FileRecord, ttl: int) -> bool:
        """Track a file once: True if new, False for a duplicate (same bucket, key and etag)."""
        item = {
            **self._key(record.date_prefix, record.file_key),
            "status": s(FileStatus.PENDING),
            "bucket": s(record.bucket),
            "key": s(record.key),
            "size": n(record.size),
            "etag": s(record.etag),
            "created_at": s(record.created_at),
            "updated_at": s(record.created_at),
            "pending_shard": s(pending_shard(record.file_key, self.pending_shards)),
            "pending_key": s(pending_sort_key(record.date_prefix, record.created_at)),
            "ttl": n(ttl),
        }
        if record.version_id is not None:
            item["version_id"] = s(record.version_id)
        result = self._conditional(
            "put_item", Item=item, ConditionExpression="attribute_not_exists(file_key)"
        )
        return result is not None

    def query_pending(
        self, shard: str, date_prefix: str, limit: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[PendingFile], dict[str, Any] | None]:
        """Oldest pending files of a date on one shard of the sparse pending index."""
        kwargs: dict[str, Any] = {
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "pending_shard = :shard AND begins_with(pending_key, :day)",
            "ExpressionAttributeValues": {":shard": s(shard), ":day": s(f"{date_prefix}#")},
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self._call("query", **kwargs)
        files = [pending_file(item) for item in response.get("Items", [])]
        return files, response.get("LastEvaluatedKey")

    def first_pending_after(self, shard: str, after: str | None) -> PendingFile | None:
        """The oldest pending file of the earliest date after ``after`` (a date) on a shard."""
        values: dict[str, Any] = {":shard": s(shard)}
        condition = "pending_shard = :shard"
        if after:
            condition += " AND pending_key > :after"
            values[":after"] = s(f"{after}#\uffff")
        response = self._call(
            "query",
            IndexName=PENDING_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=1,
        )
        items = response.get("Items", [])
        return pending_file(items[0]) if items else None

    def _move_file(
        self,
        date_prefix: str,
        file_key: str,
        target: FileStatus,
        expression: str,
        condition: str,
        values: dict[str, Any],
        **extra: Any,
    ) -> dict[str, Any] | None:
        """One conditional status write on a file item: ``#status`` is the status, ``#ttl`` the TTL. The
        response, or None when the condition failed."""
        sources, source_values = status_in(file_sources_for(target), FileStatus)
        return self._conditional(
            "update_item",
            Key=self._key(date_prefix, file_key),
            UpdateExpression=expression,
            ConditionExpression=sources + condition,
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={f":{target.value}": s(target), **source_values, **values},
            **extra,
        )

    def claim_file(
        self, date_prefix: str, file_key: str, manifest_id: str, now: str, ttl: int
    ) -> ClaimedVersion | None:
        """pending -> manifested for one manifest; None when someone else got there first. The item's
        ``version_id`` comes back with the write (``ReturnValues``): no read, and no index projection needed."""
        result = self._move_file(
            date_prefix,
            file_key,
            FileStatus.MANIFESTED,
            "SET #status = :manifested, manifest_id = :m, claimed_at = :now, updated_at = :now, #ttl = :ttl "
            "REMOVE pending_shard, pending_key",
            "",
            {":m": s(manifest_id), ":now": s(now), ":ttl": n(ttl)},
            ReturnValues="ALL_NEW",
        )
        return None if result is None else ClaimedVersion(version_of(result.get("Attributes", {})))

    def release_file(
        self, date_prefix: str, file_key: str, created_at: str, manifest_id: str, now: str, ttl: int
    ) -> bool:
        """manifested -> pending, only while still claimed by ``manifest_id``; back at its original age."""
        result = self._move_file(
            date_prefix,
            file_key,
            FileStatus.PENDING,
            "SET #status = :pending, updated_at = :now, #ttl = :ttl, pending_shard = :shard, pending_key = :pk "
            "REMOVE manifest_id, claimed_at",
            " AND manifest_id = :m",
            {
                ":m": s(manifest_id),
                ":now": s(now),
                ":ttl": n(ttl),
                ":shard": s(pending_shard(file_key, self.pending_shards)),
                ":pk": s(pending_sort_key(date_prefix, created_at)),
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
                "ExpressionAttributeValues": {":m": s(manifest_id), ":f": s(FILE_KEY_PREFIX)},
                "Limit": page_size,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._call("query", **kwargs)
            for item in response.get("Items", []):
                yield claimed_file(item)
            start = response.get("LastEvaluatedKey")
            if not start:
                return

    def requeue_files(
        self, date_prefix: str, file_keys: list[str], manifest_id: str, now: str, ttl: int
    ) -> int:
        """`pipeline retry`: the files of this manifest back to (or still) ``manifested``, with a fresh TTL, one
        conditional update each (only on a retry: the status update writes no file). An item stored `failed` or
        `completed` (written before completion by reference) becomes `manifested` again, so it takes its
        manifest's next verdict. Returns how many files are now manifested under ``manifest_id``."""
        sources, source_values = status_in(operator_file_sources_for(FileStatus.MANIFESTED), FileStatus)
        done = 0
        for file_key in file_keys:
            result = self._conditional(
                "update_item",
                Key=self._key(date_prefix, file_key),
                UpdateExpression="SET #status = :target, updated_at = :now, #ttl = :ttl REMOVE #error",
                ConditionExpression=f"manifest_id = :m AND {sources}",
                ExpressionAttributeNames={"#status": "status", "#ttl": "ttl", "#error": "error"},
                ExpressionAttributeValues={
                    ":target": s(FileStatus.MANIFESTED),
                    ":m": s(manifest_id),
                    ":now": s(now),
                    ":ttl": n(ttl),
                    **source_values,
                },
            )
            if result is not None:
                done += 1
        return done

    def batch_get(
        self, keys: list[tuple[str, str]], consistent: bool = False, projection: str | None = None
    ) -> list[dict[str, Any]]:
        """Items by (date_prefix, file_key), 100 keys a request (BatchGetItem's limit), unprocessed keys asked
        again; raw DynamoDB items (``codec.plain`` reads them), in no particular order."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            wanted: dict[str, Any] = {"Keys": [self._key(d, k) for d, k in keys[start : start + 100]]}
            if consistent:
                wanted["ConsistentRead"] = True
            if projection:
                wanted["ProjectionExpression"] = projection
            request: dict[str, Any] = {self._table: wanted}
            while request:
                response = self._batch_get_page(request)
                items.extend(response.get("Responses", {}).get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
        return items

    def _batch_get_page(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._retry.call(lambda: self._client.batch_get_item(RequestItems=request))

    # -- per-date counter and lease ---------------------------------------------------------------------------
    def add_pending(self, date_prefix: str, count: int, total_bytes: int, now: str, ttl: int) -> Counter:
        response = self._call(
            "update_item",
            Key=self._key(date_prefix, COUNTER_KEY),
            UpdateExpression="ADD pending_count :c, pending_bytes :b, ver :one SET updated_at = :now, #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":c": n(count),
                ":b": n(total_bytes),
                ":one": n(1),
                ":now": s(now),
                ":ttl": n(ttl),
            },
            ReturnValues="ALL_NEW",
        )
        return counter(response.get("Attributes", {}))

    def get_counter(self, date_prefix: str) -> Counter:
        return counter(self.get_item(date_prefix, COUNTER_KEY) or {})

    def correct_counter(
        self, date_prefix: str, seen: Counter, count: int, total_bytes: int, now: str
    ) -> bool:
        """Set the hint to what the pending index showed, unless the counter moved since it was read."""
        condition = "ver = :ver" if seen.ver else "attribute_not_exists(ver)"
        values: dict[str, Any] = {
            ":c": n(count),
            ":b": n(total_bytes),
            ":now": s(now),
            ":next": n(seen.ver + 1),
        }
        if seen.ver:
            values[":ver"] = n(seen.ver)
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, COUNTER_KEY),
            UpdateExpression="SET pending_count = :c, pending_bytes = :b, ver = :next, updated_at = :now",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        return result is not None

    def acquire_lease(self, date_prefix: str, owner: str, now_epoch: int, until_epoch: int) -> bool:
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, LEASE_KEY),
            UpdateExpression="SET #owner = :owner, lease_until = :until",
            ConditionExpression="attribute_not_exists(#owner) OR lease_until < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": s(owner), ":until": n(until_epoch), ":now": n(now_epoch)},
        )
        return result is not None

    def release_lease(self, date_prefix: str, owner: str) -> None:
        self._conditional(
            "update_item",
            Key=self._key(date_prefix, LEASE_KEY),
            UpdateExpression="REMOVE #owner, lease_until",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": s(owner)},
        )

    # -- claims (intent records) ------------------------------------------------------------------------------
    def put_claim(self, date_prefix: str, manifest_id: str, now: str, ttl: int) -> None:
        self._call(
            "put_item",
            Item={
                **self._key(date_prefix, claim_item_key(manifest_id)),
                "manifest_id": s(manifest_id),
                "claimed_at": s(now),
                "claim_open": s(OPEN_CLAIM),
                "ttl": n(ttl),
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
            ExpressionAttributeValues={":open": s(OPEN_CLAIM), ":cutoff": s(cutoff)},
            Limit=limit,
        )
        return [open_claim(i) for i in response.get("Items", [])]
