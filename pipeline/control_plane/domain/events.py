"""Parsing of what the Lambda receives (pure): S3 notifications inside SQS message bodies, and action payloads.

Raises ``InvalidEvent`` with a sentence that names the problem and never quotes the payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.contracts.errors import InvalidEvent
from pipeline.control_plane.domain.keys import decode_s3_key

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class S3ObjectEvent:
    event_name: str
    bucket: str
    key: str  # URL-decoded
    size: int
    etag: str
    event_time: datetime
    version_id: str | None = None  # s3.object.versionId: present when the bucket is versioned

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


@dataclass(frozen=True)
class ParsedMessage:
    """``test_event`` True for the ``s3:TestEvent`` S3 sends when notifications are configured."""

    records: tuple[S3ObjectEvent, ...]
    test_event: bool = False


def parse_sqs_body(body: str | None) -> ParsedMessage:
    """An SQS message body holding an S3 event notification, directly or inside an SNS envelope."""
    if body is None or not body.strip():
        raise InvalidEvent("message body is empty")
    if len(body.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise InvalidEvent("message body is larger than an S3 notification can be")
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        raise InvalidEvent("message body is not JSON") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        try:
            document = json.loads(document["Message"])
        except (json.JSONDecodeError, TypeError):
            raise InvalidEvent("SNS envelope does not hold a JSON message") from None
    if not isinstance(document, dict):
        raise InvalidEvent("message body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return ParsedMessage((), test_event=True)
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise InvalidEvent("message body is not an S3 event notification (no Records)")
    return ParsedMessage(tuple(_parse_record(record, index) for index, record in enumerate(records)))


def _parse_record(record: Any, index: int) -> S3ObjectEvent:
    where = f"record {index}"
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        raise InvalidEvent(f"{where} is not an S3 event record")
    try:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        raw_key = obj["key"]
        event_name = record["eventName"]
    except (KeyError, TypeError):
        raise InvalidEvent(f"{where} lacks eventName, s3.bucket.name or s3.object.key") from None
    if not all(isinstance(v, str) and v for v in (bucket, raw_key, event_name)):
        raise InvalidEvent(f"{where} has an empty or non-text bucket, key or event name")
    size = obj.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidEvent(f"{where} has an invalid object size")
    etag = obj.get("eTag") or obj.get("etag") or ""
    if not etag:
        sequencer = obj.get("sequencer") or ""
        if not sequencer:
            raise InvalidEvent(f"{where} has neither an eTag nor a sequencer")
        etag = f"seq-{sequencer}"
    return S3ObjectEvent(
        event_name=event_name,
        bucket=bucket,
        key=decode_s3_key(raw_key),
        size=size,
        etag=str(etag).strip('"'),
        event_time=_event_time(record.get("eventTime"), where),
        version_id=_version_id(obj.get("versionId"), where),
    )


def _version_id(raw: Any, where: str) -> str | None:
    """The object version an event names; absent or empty (an unversioned bucket) is None."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise InvalidEvent(f"{where} has a non-text versionId")
    return raw


def _event_time(raw: Any, where: str) -> datetime:
    if raw is None:
        return datetime.now(UTC)
    if not isinstance(raw, str):
        raise InvalidEvent(f"{where} has a non-text eventTime")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent(f"{where} has an eventTime that is not ISO-8601") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CompleteRequest:
    manifest_id: str
    date_prefix: str
    status: str
    error: str | None
    cause: str | None
    report: dict[str, Any]
    # s3:// URL of the job report, which the status update reads itself (the state machine passes only this).
    report_path: str | None = None


def parse_complete(event: dict[str, Any]) -> CompleteRequest:
    from pipeline.contracts.manifest import is_manifest_id

    manifest_id = event.get("manifest_id")
    date_prefix = event.get("date_prefix")
    status = event.get("status")
    if not isinstance(manifest_id, str) or not is_manifest_id(manifest_id):
        raise InvalidEvent("complete: manifest_id is missing or not a manifest id")
    if not isinstance(date_prefix, str) or not manifest_id.startswith(date_prefix + "-"):
        raise InvalidEvent("complete: date_prefix is missing or does not match the manifest id")
    if status not in ("completed", "failed"):
        raise InvalidEvent("complete: status must be 'completed' or 'failed'")
    report = event.get("report") or {}
    if not isinstance(report, dict):
        raise InvalidEvent("complete: report must be a JSON object")

    report_path = event.get("report_path")
    if report_path is not None:
        from pipeline.contracts.manifest import split_s3_url
        from pipeline.contracts.report import is_report_key

        try:
            _, key = split_s3_url(report_path) if isinstance(report_path, str) else ("", "")
        except ValueError:
            key = ""
        if not is_report_key(key, manifest_id):
            raise InvalidEvent(
                "complete: report_path must be the s3:// URL of <output>/_reports/<manifest_id>.json"
            )

    def text(name: str) -> str | None:
        value = event.get(name)
        if value is None:
            return None
        return (
            value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        )

    return CompleteRequest(
        manifest_id, date_prefix, status, text("error"), text("cause"), report, report_path
    )
