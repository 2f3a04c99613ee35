"""`pipeline backfill`: track objects already in S3 (e.g. landed before the notification existed).

Each listed object becomes the S3 `ObjectCreated` record a notification would have carried (key URL-encoded as S3
encodes it, ETag without quotes, LastModified as the event time) and goes through the control plane's own
`IngestSession`, the code the Lambda runs for an SQS batch: a conditional put per file (an object already tracked,
by a live event or an earlier backfill, is a duplicate and a no-op), one counter update per date, and full batches
started at once. Partial batches are started by the scheduled flush once their oldest file waited
MAX_BATCH_WAIT_SECONDS, as for live files. `--dry-run` only looks the objects up (BatchGetItem on their file keys)
and counts what would be tracked. Objects with a suffix the pipeline does not accept are
counted and skipped, as the Lambda skips them.

Work is bounded: objects are listed a page (1,000) at a time and fed in groups of `group_size`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from pipeline.contracts.suffixes import has_accepted_suffix
from pipeline.control_plane.domain.events import parse_sqs_body
from pipeline.control_plane.domain.keys import extract_date_prefix, make_file_key
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import BackfillFailed

Progress = Callable[[int], None]  # objects seen so far


@dataclass
class BackfillResult:
    bucket: str
    prefix: str
    dry_run: bool
    listed: int = 0
    tracked: int = 0  # with --dry-run: would be tracked
    already_tracked: int = 0
    skipped_suffix: int = 0
    manifests_started: list[str] = field(default_factory=list)
    dates: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def object_record(bucket: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The S3 event record a notification would have carried for a listed object."""
    modified = obj.get("LastModified")
    if isinstance(modified, datetime):
        event_time = modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        event_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": event_time,
        "s3": {
            "bucket": {"name": bucket},
            "object": {
                "key": quote_plus(str(obj["Key"]), safe="/"),
                "size": int(obj.get("Size", 0)),
                "eTag": str(obj.get("ETag", "")).strip('"'),
                # the current version, as the notification names it (versioned buckets only)
                **({"versionId": obj["VersionId"]} if obj.get("VersionId") not in (None, "", "null") else {}),
            },
        },
    }


def list_objects(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """The current version of every object under the prefix (with its VersionId; "null" when the bucket is not
    versioned); keys whose latest version is a delete marker are gone and left out."""
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}):
            yield from (v for v in page.get("Versions", []) if v.get("IsLatest"))
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "AccessDenied", "AllAccessDisabled"):
            raise BackfillFailed(f"Cannot list s3://{bucket}/{prefix} ({code}).") from exc
        raise


def backfill(
    ctx: OpsContext,
    bucket: str,
    prefix: str,
    *,
    dry_run: bool = False,
    group_size: int = 100,
    progress: Progress | None = None,
) -> BackfillResult:
    config = ctx.config()
    service = ctx.control_plane(config)
    result = BackfillResult(bucket=bucket, prefix=prefix, dry_run=dry_run)
    group: list[dict[str, Any]] = []

    def feed(records: list[dict[str, Any]]) -> None:
        session = service.ingest_session()
        # One message per object, as S3 sends them; the session counts and batches once per group.
        for record in records:
            outcome = session.handle_message(json.dumps({"Records": [record]}))
            result.tracked += outcome.tracked
            result.already_tracked += outcome.duplicates
        result.manifests_started += session.close()
        for date_prefix, (count, _bytes) in session.new_by_date.items():
            result.dates[date_prefix] = result.dates.get(date_prefix, 0) + count

    def look_up(records: list[dict[str, Any]]) -> None:
        keys: dict[tuple[str, str], None] = {}
        for record in records:
            event = parse_sqs_body(json.dumps({"Records": [record]})).records[0]
            date_prefix = extract_date_prefix(event.key, event.event_time)
            keys[(date_prefix, make_file_key(event.bucket, event.key, event.etag))] = None
            result.dates[date_prefix] = result.dates.get(date_prefix, 0) + 1
        found = len(ctx.tracking(config).batch_get(list(keys), projection="file_key"))
        result.already_tracked += found
        result.tracked += len(keys) - found

    for obj in list_objects(ctx.client("s3"), bucket, prefix):
        result.listed += 1
        if not has_accepted_suffix(str(obj["Key"]), config.accepted_suffixes):
            result.skipped_suffix += 1
        else:
            group.append(object_record(bucket, obj))
            if len(group) >= group_size:
                (look_up if dry_run else feed)(group)
                group = []
        if progress is not None:
            progress(result.listed)
    if group:
        (look_up if dry_run else feed)(group)
    return result
