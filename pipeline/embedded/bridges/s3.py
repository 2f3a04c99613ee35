"""S3 bridges: the gaps of moto's S3 the embedded AWS needs filled."""

from __future__ import annotations

from typing import Any

from pipeline.embedded.bridges.check import mark_installed, require


def bridge_s3_event_version_id() -> None:
    """S3 event notifications carry the object's `versionId` when the bucket is versioned, as AWS sends them.

    moto leaves it out, so the embedded pipeline would track every object unversioned and an overwrite after a
    claim would be read as the new content (issue 13's exactly-once from object version to row)."""
    from moto.s3 import notifications

    name = "s3-event-version-id"
    original = getattr(notifications, "_get_s3_event", None)
    require(callable(original), name, "moto.s3.notifications._get_s3_event is gone")
    assert original is not None

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            for record in event.get("Records", []):
                record["s3"]["object"]["versionId"] = version
        return event

    notifications._get_s3_event = get_s3_event
    mark_installed(name)
