"""The tracking table's writes for `pipeline replay` (pipeline/ops/replay.py): the ``REPLAY#`` item that records
a replay step by step, and the reset of a date's finished files back to pending under that replay."""

from __future__ import annotations

from typing import Any

from pipeline.control_plane.adapters.codec import n, plain, s, status_in
from pipeline.control_plane.adapters.dynamo import TableAccess
from pipeline.control_plane.domain.items import replay_item_key
from pipeline.control_plane.domain.keys import pending_shard, pending_sort_key
from pipeline.control_plane.domain.states import FileStatus, operator_file_sources_for

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
        self, date_prefix: str, file_key: str, created_at: str, replay_id: str, now: str, ttl: int
    ) -> bool:
        """completed|failed -> pending under ``replay_id``, back at its original tracking time (so it is due at
        once) and without its old manifest; False when the file was in another status."""
        condition, sources = status_in(operator_file_sources_for(FileStatus.PENDING), FileStatus)
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, file_key),
            UpdateExpression=(
                "SET #status = :pending, pending_shard = :shard, pending_key = :pk, replay_id = :r, "
                "updated_at = :now, #ttl = :ttl REMOVE manifest_id, claimed_at, #error"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl", "#error": "error"},
            ExpressionAttributeValues={
                ":pending": s(FileStatus.PENDING),
                **sources,
                ":shard": s(pending_shard(file_key, self.pending_shards)),
                ":pk": s(pending_sort_key(date_prefix, created_at)),
                ":r": s(replay_id),
                ":now": s(now),
                ":ttl": n(ttl),
            },
        )
        return result is not None
