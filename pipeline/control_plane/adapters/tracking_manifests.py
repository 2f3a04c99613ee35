"""The MANIFEST items of the tracking table: recorded after the execution started, finalised by the status
update, and the operator's writes on them (`pipeline retry` resets one, `pipeline replay` supersedes them).

Each write is conditional on the status it moves from (built from ``domain/states.py``), so a repeated or late
write never overwrites a verdict."""

from __future__ import annotations

from typing import Any

from pipeline.control_plane.adapters.codec import get_s, n, s, status_in
from pipeline.control_plane.adapters.dynamo import TableAccess
from pipeline.control_plane.adapters.tracking_records import (
    MANIFEST_INDEX,
    MAX_CAUSE_CHARS,
    OPEN_MANIFEST,
    OPEN_MANIFESTS_INDEX,
    ManifestRecord,
    StartedManifest,
    Verdict,
    manifest_record,
)
from pipeline.control_plane.domain.items import manifest_item_key
from pipeline.control_plane.domain.states import (
    FINAL_MANIFEST_STATUSES,
    ManifestStatus,
    manifest_sources_for,
)


class ManifestItems(TableAccess):
    def record_manifest(self, started: StartedManifest, now: str, ttl: int) -> bool:
        """Write the MANIFEST item after the execution started. Never overwrites a status the state machine
        already set. True if this call recorded it, False if it had been recorded before.

        With the files' oldest ``created_at`` it also puts the item in ``open-manifests-index`` (the freshness
        reads it) in the same write, unless the item is already completed (a status update that came first):
        then the item is written as before, outside the index (the one extra write of that rare race)."""
        sets = (
            "SET #status = if_not_exists(#status, :pending), manifest_id = :m, execution_arn = :arn, "
            "manifest_path = :path, file_count = :count, total_bytes = :bytes, "
            "created_at = if_not_exists(created_at, :now), updated_at = :now, #ttl = :ttl"
        )
        names = {"#status": "status", "#ttl": "ttl"}
        values: dict[str, Any] = {
            ":pending": s(ManifestStatus.PENDING),
            ":m": s(started.manifest_id),
            ":arn": s(started.execution_arn),
            ":path": s(started.manifest_path),
            ":count": n(started.file_count),
            ":bytes": n(started.total_bytes),
            ":now": s(now),
            ":ttl": n(ttl),
        }
        key = self._key(started.date_prefix, manifest_item_key(started.manifest_id))
        response: dict[str, Any] | None = None
        if started.oldest_created_at:
            response = self._conditional(
                "update_item",
                Key=key,
                UpdateExpression=sets
                + ", manifest_open = :open, open_since = if_not_exists(open_since, :oldest)",
                ConditionExpression="attribute_not_exists(#status) OR #status <> :completed",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    **values,
                    ":open": s(OPEN_MANIFEST),
                    ":oldest": s(started.oldest_created_at),
                    ":completed": s(ManifestStatus.COMPLETED),
                },
                ReturnValues="UPDATED_OLD",
            )
        if response is None:
            response = self._call(
                "update_item",
                Key=key,
                UpdateExpression=sets,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_OLD",
            )
        return "execution_arn" not in response.get("Attributes", {})

    def oldest_open_manifest(self) -> str | None:
        """The oldest file ``created_at`` of the manifests started and not completed (failed ones included):
        one ``Limit 1`` query of ``open-manifests-index``. None when there is none."""
        response = self._call(
            "query",
            IndexName=OPEN_MANIFESTS_INDEX,
            KeyConditionExpression="manifest_open = :open",
            ExpressionAttributeValues={":open": s(OPEN_MANIFEST)},
            ScanIndexForward=True,
            Limit=1,
        )
        items = response.get("Items", [])
        return get_s(items[0], "open_since") or None if items else None

    def get_manifest(self, date_prefix: str, manifest_id: str) -> ManifestRecord | None:
        response = self._call(
            "get_item", Key=self._key(date_prefix, manifest_item_key(manifest_id)), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return manifest_record(date_prefix, manifest_id, item)

    def finalize_manifest(
        self, date_prefix: str, manifest_id: str, verdict: Verdict, now: str, ttl: int
    ) -> bool:
        """Set the final status and the job report counts; False when the item is already final otherwise."""
        sources, source_values = status_in(manifest_sources_for(verdict.status), ManifestStatus)
        names = {"#status": "status", "#ttl": "ttl"}
        values: dict[str, Any] = {
            ":target": s(verdict.status),
            ":now": s(now),
            ":ttl": n(ttl),
            ":m": s(manifest_id),
            **source_values,
        }
        sets = [
            "#status = :target",
            "completed_at = :now",
            "updated_at = :now",
            "#ttl = :ttl",
            "manifest_id = :m",
        ]
        # Completed: its lines are queryable, out of open-manifests-index in this same write. Failed stays in.
        removes = ["manifest_open", "open_since"] if verdict.status == ManifestStatus.COMPLETED else []
        for name, value in (
            ("error", verdict.error),
            ("cause", verdict.cause),
            ("job_error", verdict.job_error),
        ):
            names[f"#{name}"] = name
            if value:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = s(value[:MAX_CAUSE_CHARS])
            else:
                removes.append(f"#{name}")
        for name, number in verdict.report.items():
            sets.append(f"{name} = :r_{name}")
            values[f":r_{name}"] = n(number)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression=expression,
            ConditionExpression=f"attribute_not_exists(#status) OR {sources}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return result is not None

    # -- operator writes --------------------------------------------------------------------------------------
    def find_manifest_key(self, manifest_id: str) -> tuple[str, str] | None:
        """(date_prefix, file_key) of a manifest id's MANIFEST item, from the manifest index (no date needed)."""
        response = self._call(
            "query",
            IndexName=MANIFEST_INDEX,
            KeyConditionExpression="manifest_id = :m AND file_key = :k",
            ExpressionAttributeValues={":m": s(manifest_id), ":k": s(manifest_item_key(manifest_id))},
            Limit=1,
        )
        items = response.get("Items", [])
        return (get_s(items[0], "date_prefix"), get_s(items[0], "file_key")) if items else None

    def get_item(self, date_prefix: str, file_key: str) -> dict[str, Any] | None:
        """One item as DynamoDB returns it (consistent read)."""
        response = self._call("get_item", Key=self._key(date_prefix, file_key), ConsistentRead=True)
        return response.get("Item")

    def reset_manifest_for_retry(
        self,
        date_prefix: str,
        manifest_id: str,
        seen_status: str,
        seen_attempts: int | None,
        attempt: int,
        execution_name: str,
        now: str,
    ) -> bool:
        """Back to pending for attempt ``attempt``, unless its status or attempt count moved since it was read
        (two operators retrying at once start one attempt). False when it moved."""
        values: dict[str, Any] = {
            ":pending": s(ManifestStatus.PENDING),
            ":seen": s(seen_status),
            ":n": n(attempt),
            ":name": s(execution_name),
            ":now": s(now),
        }
        condition = "#status = :seen AND "
        if seen_attempts is not None:
            condition += "attempts = :prev"
            values[":prev"] = n(seen_attempts)
        else:
            condition += "attribute_not_exists(attempts)"
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression=(
                "SET #status = :pending, attempts = :n, execution_name = :name, retried_at = :now, "
                "updated_at = :now REMOVE #error, cause, completed_at"
            ),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues=values,
        )
        return result is not None

    def mark_retry_failed(
        self, date_prefix: str, manifest_id: str, attempt: int, error: str, cause: str, now: str
    ) -> None:
        """pending -> failed for the attempt that could not start (raises if another attempt took over)."""
        self._call(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression="SET #status = :failed, #error = :error, cause = :cause, updated_at = :now",
            ConditionExpression="#status = :pending AND attempts = :n",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": s(ManifestStatus.FAILED),
                ":pending": s(ManifestStatus.PENDING),
                ":error": s(error),
                ":cause": s(cause[:MAX_CAUSE_CHARS]),
                ":now": s(now),
                ":n": n(attempt),
            },
        )

    def set_execution_arn(self, date_prefix: str, manifest_id: str, execution_arn: str) -> None:
        self._call(
            "update_item",
            Key=self._key(date_prefix, manifest_item_key(manifest_id)),
            UpdateExpression="SET execution_arn = :arn",
            ExpressionAttributeValues={":arn": s(execution_arn)},
        )

    def supersede_manifest(self, date_prefix: str, file_key: str, replay_id: str, now: str) -> bool:
        """Mark a final MANIFEST item as superseded by a replay, once; False if it is not final or already is.
        A superseded failed manifest leaves open-manifests-index: its files are pending again (the replay)."""
        final, final_values = status_in(FINAL_MANIFEST_STATUSES, ManifestStatus)
        result = self._conditional(
            "update_item",
            Key=self._key(date_prefix, file_key),
            UpdateExpression="SET superseded_by = :r, superseded_at = :now REMOVE manifest_open, open_since",
            ConditionExpression=f"{final} AND attribute_not_exists(superseded_by)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":r": s(replay_id), ":now": s(now), **final_values},
        )
        return result is not None
