"""The tracking table's writes for `pipeline replay` (pipeline/ops/replay.py): the ``REPLAY#`` item that records
a replay step by step, and the reset of a date's finished files back to pending under that replay."""

from __future__ import annotations

from typing import Any

from pipeline.control_plane.adapters.codec import n, plain, s, status_in
from pipeline.control_plane.adapters.dynamo import TableAccess
from pipeline.control_plane.domain.items import manifest_item_key, replay_item_key
from pipeline.control_plane.domain.keys import pending_shard, pending_sort_key
from pipeline.control_plane.domain.states import (
    FINAL_MANIFEST_STATUSES,
    STORED_FINAL_FILE_STATUSES,
    FileStatus,
    ManifestStatus,
)

MAX_LISTED_IDS = 1000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return n(value)
    if isinstance(value, list):
        return {"L": [s(str(v)) for v in value]}
    return s(str(value))


class ReplayItems(TableAccess):
    def put_replay(
        self, date_prefix: str, replay_id: str, old_manifests: list[str], files: int, now: str, ttl: int
    ) -> dict[str, Any]:
        """The new REPLAY item, in status ``snapshot`` (raises if that replay id exists); returned plain."""
        item = {
            **self._key(date_prefix, replay_item_key(replay_id)),
            "replay_id": s(replay_id),
            "status": s("snapshot"),
            # For the record (an item holds at most 400 KB): the count always, the ids of up to 1,000.
            "old_manifest_count": n(len(old_manifests)),
            "old_manifests": {"L": [s(m) for m in old_manifests[:MAX_LISTED_IDS]]},
            "file_count": n(files),
            "started_at": s(now),
            "updated_at": s(now),
            "ttl": n(ttl),
        }
        self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(file_key)")
        return plain(item)

    def set_replay(self, date_prefix: str, replay_id: str, status: str, now: str, **extra: Any) -> None:
        """The replay's next step, with any attributes the step records (bool, int, list of str or str)."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": s(status), ":now": s(now)}
        sets = ["#status = :status", "updated_at = :now"]
        for name, value in extra.items():
            names[f"#{name}"] = name
            values[f":{name}"] = _value(value)
            sets.append(f"#{name} = :{name}")
        self._call(
            "update_item",
            Key=self._key(date_prefix, replay_item_key(replay_id)),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def reset_file_for_replay(
        self,
        date_prefix: str,
        file_key: str,
        created_at: str,
        replay_id: str,
        now: str,
        ttl: int,
        manifest_id: str | None = None,
    ) -> bool:
        """A finished file -> pending under ``replay_id``, back at its original tracking time (so it is due at
        once) and without its old manifest; False when the file was not finished.

        Without ``manifest_id``: an item stored `completed|failed` (written before completion by reference), one
        conditional update. With it: a file stored `manifested` under ``manifest_id``, finished only when that
        MANIFEST item is final: one TransactWriteItems (2 WCU per item, replays only) of a ConditionCheck on the
        MANIFEST item's final status and the update conditioned on ``status = manifested AND manifest_id = :m``, so
        a file whose manifest is still running is never reset."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._key(date_prefix, file_key),
            "UpdateExpression": (
                "SET #status = :pending, pending_shard = :shard, pending_key = :pk, replay_id = :r, "
                "updated_at = :now, #ttl = :ttl REMOVE manifest_id, claimed_at, #error"
            ),
            "ExpressionAttributeNames": {"#status": "status", "#ttl": "ttl", "#error": "error"},
            "ExpressionAttributeValues": {
                ":pending": s(FileStatus.PENDING),
                ":shard": s(pending_shard(file_key, self.pending_shards)),
                ":pk": s(pending_sort_key(date_prefix, created_at)),
                ":r": s(replay_id),
                ":now": s(now),
                ":ttl": n(ttl),
            },
        }
        if manifest_id is None:
            condition, sources = status_in(STORED_FINAL_FILE_STATUSES, FileStatus)
            update["ExpressionAttributeValues"].update(sources)
            update.pop("TableName")
            result = self._conditional("update_item", ConditionExpression=condition, **update)
            return result is not None
        final, final_values = status_in(FINAL_MANIFEST_STATUSES, ManifestStatus)
        update["ConditionExpression"] = "#status = :manifested AND manifest_id = :m"
        update["ExpressionAttributeValues"].update(
            {":manifested": s(FileStatus.MANIFESTED), ":m": s(manifest_id)}
        )
        check = {
            "TableName": self._table,
            "Key": self._key(date_prefix, manifest_item_key(manifest_id)),
            "ConditionExpression": final,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": final_values,
        }
        return self._transact([{"ConditionCheck": check}, {"Update": update}])
