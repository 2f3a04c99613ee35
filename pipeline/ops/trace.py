"""`pipeline trace s3://bucket/key`: one file's whole journey, from the S3 object to the snapshot that made it visible.

Reads only, through the operator's session (real AWS or the embedded one):
- the S3 object (HeadObject, with the version asked for);
- its tracking item(s): a `begins_with` query on the date's partition (one item per tracked content, so a key
  uploaded twice has two), each decoded by the adapter's codec; what an item records is its status history;
- per item, the MANIFEST item it names (GetItem), the manifest object (HeadObject, then its entries: does it list
  this file?), the Step Functions execution (DescribeExecution, GetExecutionHistory) and the Glue job run
  (GetJobRun; its id comes from the execution's history);
- the job report (`pipeline/contracts/report.py` names its key), the quarantine records of that file (the run's
  quarantine folder, records filtered by `source_file`) and the rows of that file in the table (Iceberg: a scan of
  the date on `_source_file` and `_manifest_id`; Parquet: the manifest's files of the partition). The job report
  keeps totals per batch only, so rows and quarantined lines per file are counted from the table and the
  quarantine themselves;
- Iceberg: the snapshot whose summary `manifest-id` is the file's manifest, and whether it is still an ancestor of
  the table's current snapshot.

Everything else is pure assembly (`states_of`, `glue_run_ref`, `timeline`, `Trace.as_dict`), documented as the
`--json` shape in docs/runbook.md ("Where is file X?").
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from pipeline.contracts.errors import InvalidEvent
from pipeline.contracts.manifest import Manifest, is_manifest_id, s3_url, split_s3_url
from pipeline.contracts.report import MANIFEST_COUNTS, SNAPSHOT_FIELD, report_key
from pipeline.control_plane.adapters.backoff import error_code
from pipeline.control_plane.adapters.codec import plain
from pipeline.control_plane.domain.items import FILE_KEY_PREFIX, manifest_item_key
from pipeline.control_plane.domain.keys import MAX_SORT_KEY_BYTES, extract_date_prefix, make_file_key
from pipeline.control_plane.domain.times import iso, parse_time
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import OpsError, StackNameMissing, TableFormatUnsupported, TableNotFound
from pipeline.ops.status import check_date
from pipeline.ops.table_reads import STORED_STATUS, with_derived_status

TRACE_VERSION = 1  # bumped when a field of the --json shape changes meaning or goes away
SAMPLE_LINES = 5  # quarantined lines shown per file
MAX_CAUSE_CHARS = 2000
MAX_RAW_LINE_CHARS = 300
HISTORY_PAGES = 10  # at most 10,000 execution events are read
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")
# Maps a `_source_file` / quarantine `source_file` value to the input's s3:// URL: the identity on AWS; the embedded
# Glue runner's staged mode records local copies instead (as `pipeline.checks.invariants.Locations.source_url`).
SourceUrl = Callable[[str], str]
_FORMATS = ("iceberg", "parquet")


def same_url(value: str) -> str:
    return value


class InvalidS3Url(OpsError):
    error_name = "InvalidS3Url"
    exit_code = 2


class UnknownFile(OpsError):
    """No such object, and no tracking item for that key either."""

    error_name = "UnknownFile"


class FileNotTracked(OpsError):
    """The object exists but the pipeline never tracked it (no notification, another suffix, another prefix)."""

    error_name = "FileNotTracked"


class VersionNotTracked(OpsError):
    error_name = "VersionNotTracked"


@dataclass(frozen=True)
class TraceRequest:
    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None
    date: str | None = None
    file_key: str | None = None  # `--key F#...`: one tracking item by its sort key

    @classmethod
    def of(
        cls,
        url: str | None,
        *,
        version_id: str | None = None,
        date: str | None = None,
        key: str | None = None,
        bucket: str | None = None,
    ) -> TraceRequest:
        """From `s3://bucket/key` or `--date D --key K` (K: an object key of `bucket`, or an item's `F#...` key)."""
        if date is not None:
            check_date(date)
        if url:
            if key:
                raise InvalidS3Url("Give either s3://bucket/key or --key, not both.", fix="Drop one of them.")
            try:
                found_bucket, found_key = split_s3_url(url)
            except ValueError:
                raise InvalidS3Url(
                    f"{url!r} is not an s3://bucket/key URL.",
                    fix="Pass the object's URL, e.g. s3://my-input/2026-11-22/events.ndjson.",
                ) from None
            if not found_key:
                raise InvalidS3Url(f"{url!r} names no object key.", fix="Add the key after the bucket.")
            return cls(found_bucket, found_key, version_id, date)
        if not key or date is None:
            raise InvalidS3Url(
                "Nothing to trace.",
                fix="Pass s3://bucket/key, or --date D --key K (an object key or an F#... key).",
            )
        if key.startswith(FILE_KEY_PREFIX):
            return cls(None, None, version_id, date, file_key=key)
        if not bucket:
            raise InvalidS3Url(
                f"The bucket of {key!r} is unknown.",
                fix="Pass s3://bucket/key, --bucket, or stack outputs naming the input bucket.",
            )
        return cls(bucket, key, version_id, date)


# ------------------------------------------------------------------------------------------ pure assembly


def _time(value: Any) -> str | None:
    """Any timestamp the sources give (ISO text, a datetime, epoch milliseconds) as the control plane's ISO-8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return iso(datetime.fromtimestamp(value / 1000, UTC))
    moment = parse_time(str(value))
    return iso(moment) if moment else str(value)


def _cut(text: Any, limit: int = MAX_CAUSE_CHARS) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"... ({len(text)} chars)"
    return text


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for name, value in event.items():
        if name.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def states_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The states an execution went through, in order: name, type, entered/exited times, seconds, and the error
    and cause of a failure inside the state (a task's, a Lambda's, a retried task's last)."""
    states: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for event in events:
        kind = str(event.get("type", ""))
        details = _details(event)
        if kind.endswith("StateEntered"):
            current = {
                "name": details.get("name"),
                "type": kind[: -len("StateEntered")],
                "entered_at": _time(event.get("timestamp")),
                "exited_at": None,
                "seconds": None,
                "status": "running",
                "error": None,
                "cause": None,
            }
            states.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current["exited_at"] = _time(event.get("timestamp"))
            entered, exited = parse_time(current["entered_at"]), parse_time(current["exited_at"])
            if entered and exited:
                current["seconds"] = round((exited - entered).total_seconds(), 3)
            current["status"] = "failed" if current["error"] else "succeeded"
        elif kind.endswith(("Failed", "TimedOut", "Aborted")) and not kind.startswith("Execution"):
            if current is not None and (details.get("error") or details.get("cause")):
                current["error"], current["cause"] = details.get("error"), _cut(details.get("cause"))
        elif (
            kind.startswith("Execution")
            and kind != "ExecutionStarted"
            and current is not None
            and current["status"] == "running"  # a Fail state ends the execution without an exit event
        ):
            current["status"] = "failed" if kind != "ExecutionSucceeded" else "succeeded"
            current["exited_at"] = _time(event.get("timestamp"))
    return states


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def glue_run_ref(events: list[dict[str, Any]]) -> tuple[str | None, str | None, dict[str, str]]:
    """(job name, job run id, the run's arguments) of the execution's Glue task, from its history: the task's
    parameters, then the id the submission (or the outcome) reports. The last Glue run wins (a retried task)."""
    job_name: str | None = None
    run_id: str | None = None
    arguments: dict[str, str] = {}
    for event in events:
        details = _details(event)
        if details.get("resourceType") != "glue":
            continue
        kind = str(event.get("type", ""))
        if kind == "TaskScheduled":
            parameters = _json(details.get("parameters")) or {}
            job_name = parameters.get("JobName") or job_name
            arguments = {str(k): str(v) for k, v in (parameters.get("Arguments") or {}).items()}
        for text in (details.get("output"), details.get("cause")):
            found = _json(text)
            if isinstance(found, dict):
                run_id = found.get("JobRunId") or found.get("Id") or run_id
                job_name = found.get("JobName") or job_name
    return job_name, run_id, arguments


def glue_run_view(run: dict[str, Any]) -> dict[str, Any]:
    seconds = run.get("ExecutionTime")
    dpu_seconds = run.get("DPUSeconds")
    if dpu_seconds is None and isinstance(seconds, int | float) and run.get("MaxCapacity"):
        dpu_seconds = round(float(run["MaxCapacity"]) * float(seconds), 1)
    return {
        "job_name": run.get("JobName"),
        "run_id": run.get("Id"),
        "state": run.get("JobRunState"),
        "attempt": run.get("Attempt"),
        "started_at": _time(run.get("StartedOn")),
        "completed_at": _time(run.get("CompletedOn")),
        "seconds": seconds,
        "dpu_seconds": dpu_seconds,
        "worker_type": run.get("WorkerType"),
        "workers": run.get("NumberOfWorkers"),
        "error": _cut(run.get("ErrorMessage")),
    }


def timeline(item: dict[str, Any], journey: FileJourney) -> list[dict[str, Any]]:
    """The file's steps in time order, from what each source recorded."""
    steps: list[tuple[str | None, str, str]] = [(item.get("created_at"), "tracked", "status pending")]
    if item.get("claimed_at"):
        steps.append((item["claimed_at"], "claimed", f"into manifest {item.get('manifest_id')}"))
    manifest = journey.manifest or {}
    if manifest.get("created_at"):
        steps.append(
            (
                manifest["created_at"],
                "manifest recorded",
                f"MANIFEST item, {manifest.get('file_count')} files",
            )
        )
    execution = journey.execution or {}
    if execution.get("started_at"):
        steps.append((execution["started_at"], "execution started", str(execution.get("name"))))
    for state in execution.get("states", []):
        detail = state["status"] + (f": {state['error']}" if state.get("error") else "")
        steps.append((state.get("entered_at"), f"state {state['name']}", detail))
    run = journey.glue_run or {}
    if run.get("started_at"):
        steps.append((run["started_at"], "glue run started", str(run.get("run_id"))))
    if run.get("completed_at"):
        steps.append((run["completed_at"], "glue run ended", str(run.get("state"))))
    snapshot = journey.snapshot or {}
    if snapshot.get("committed_at"):
        steps.append(
            (snapshot["committed_at"], "snapshot committed", f"snapshot {snapshot.get('snapshot_id')}")
        )
    if execution.get("stopped_at"):
        steps.append((execution["stopped_at"], "execution ended", str(execution.get("status"))))
    if manifest.get("completed_at"):
        steps.append((manifest["completed_at"], f"manifest {manifest.get('status')}", ""))
    if item.get("status") in ("completed", "failed"):
        if item.get(STORED_STATUS, item.get("status")) == item.get("status"):  # stored final (older items)
            steps.append((item.get("updated_at"), f"file {item['status']}", str(item.get("error") or "")))
        else:  # by reference: the file is final with its manifest
            steps.append((manifest.get("completed_at"), f"file {item['status']}", "with its manifest"))
    shown = [{"at": _time(at), "event": event, "detail": detail} for at, event, detail in steps if at]
    return sorted(shown, key=lambda step: str(step["at"]))


@dataclass
class FileJourney:
    """One tracked content of the object and everything downstream of it."""

    item: dict[str, Any]
    current: bool | None = None  # the item's etag is the object's current one (None: the object is gone)
    manifest: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None
    glue_run: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    snapshot: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        item = {k: v for k, v in self.item.items() if k not in ("ttl", "pending_shard", "pending_key")}
        return {
            "file_key": item.get("file_key"),
            "status": item.get("status"),
            "current": self.current,
            "item": item,
            "timeline": timeline(self.item, self),
            "manifest": self.manifest,
            "execution": self.execution,
            "glue_run": self.glue_run,
            "report": self.report,
            "output": self.output,
            "snapshot": self.snapshot,
            "notes": self.notes,
        }


@dataclass
class Trace:
    url: str | None
    date: str
    object: dict[str, Any] | None
    journeys: list[FileJourney]

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_version": TRACE_VERSION,
            "url": self.url,
            "date": self.date,
            "object": self.object,
            "items": [j.as_dict() for j in self.journeys],
        }


# ------------------------------------------------------------------------------------------ AWS reads


def _missing(exc: ClientError) -> bool:
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error_code(exc) in _MISSING or status == "404"


def head_object(s3: Any, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        head = s3.head_object(**kwargs)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # S3 answers 400 for a version id it cannot have issued (e.g. on an unversioned bucket).
        if _missing(exc) or (version_id and status == 400):
            return {"exists": False, "bucket": bucket, "key": key, "version_id": version_id}
        raise
    return {
        "exists": True,
        "bucket": bucket,
        "key": key,
        "version_id": head.get("VersionId"),
        "size": head.get("ContentLength"),
        "etag": str(head.get("ETag", "")).strip('"'),
        "last_modified": _time(head.get("LastModified")),
        "delete_marker": bool(head.get("DeleteMarker", False)),
    }


def candidate_dates(key: str, last_modified: str | None, asked: str | None) -> list[str]:
    """The dates whose partition may hold the key's items: the asked one; else the key's date folder; else
    (a key without one lands in the upload day's partition) the object's day and its neighbours."""
    if asked:
        return [asked]
    early, late = datetime(2000, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)
    if extract_date_prefix(key, early) == extract_date_prefix(key, late):
        return [extract_date_prefix(key, early)]
    moment = parse_time(last_modified)
    if moment is None:
        return []
    return [(moment + timedelta(days=offset)).date().isoformat() for offset in (0, -1, 1)]


def file_items(
    ddb: Any, table: str, date: str, bucket: str, key: str, etag: str | None
) -> list[dict[str, Any]]:
    """The tracking items of one object key in one date (one per tracked content), oldest first."""
    prefix = f"{FILE_KEY_PREFIX}{bucket}/{key}#"
    if len(prefix.encode("utf-8")) > MAX_SORT_KEY_BYTES - 40:  # a long key's items are cut with a hash
        prefix = make_file_key(bucket, key, etag or "").rsplit("#", 1)[0] + "#"
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "date_prefix = :d AND begins_with(file_key, :p)",
            "ExpressionAttributeValues": {":d": {"S": date}, ":p": {"S": prefix}},
            "ConsistentRead": True,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = ddb.query(**kwargs)
        items.extend(plain(raw) for raw in response.get("Items", []))
        start = response.get("LastEvaluatedKey")
        if not start:
            break
    mine = [i for i in items if i.get("bucket") == bucket and i.get("key") == key]
    return sorted(mine, key=lambda i: str(i.get("created_at", "")))


def get_item(ddb: Any, table: str, date: str, sort_key: str) -> dict[str, Any] | None:
    response = ddb.get_item(
        TableName=table,
        Key={"date_prefix": {"S": date}, "file_key": {"S": sort_key}},
        ConsistentRead=True,
    )
    return plain(response["Item"]) if "Item" in response else None


def _read_s3(s3: Any, url: str) -> bytes | None:
    bucket, key = split_s3_url(url)
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def manifest_view(item: dict[str, Any], s3: Any, url: str, version_id: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        name: item.get(name)
        for name in (
            "manifest_id",
            "status",
            "attempts",
            "execution_arn",
            "manifest_path",
            "file_count",
            "total_bytes",
            "created_at",
            "processing_started_at",
            "completed_at",
            "error",
            "job_error",
            "superseded_by",
        )
    }
    view["attempts"] = int(item.get("attempts", 1) or 1)
    view["cause"] = _cut(item.get("cause"))
    view["counts"] = {name: item[name] for name in (*MANIFEST_COUNTS, SNAPSHOT_FIELD) if name in item}
    path = item.get("manifest_path")
    if path:
        body = _read_s3(s3, str(path))
        if body is None:
            view["object"] = {"exists": False}
        else:
            try:
                entries = Manifest.from_json(body).entries
            except InvalidEvent:
                view["object"] = {"exists": True, "bytes": len(body), "readable": False}
                return view
            lists = any(
                e.url == url and (version_id is None or e.version_id in (None, version_id)) for e in entries
            )
            view["object"] = {
                "exists": True,
                "bytes": len(body),
                "readable": True,
                "entries": len(entries),
                "lists_file": lists,
            }
    return view


def execution_view(sfn: Any, arn: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    try:
        described = sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "ResourceNotFound"):
            return None, []
        raise
    events: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(HISTORY_PAGES):
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            break
    view = {
        "arn": arn,
        "name": described.get("name"),
        "status": described.get("status"),
        "started_at": _time(described.get("startDate")),
        "stopped_at": _time(described.get("stopDate")),
        "error": described.get("error"),
        "cause": _cut(described.get("cause")),
        "states": states_of(events),
    }
    return view, events


def quarantine_prefix(bad_root: str, date: str, manifest_id: str) -> str:
    """The run's quarantine folder: the layout of the job's `RunLayout` (glue_jobs/ndjson_to_parquet/job.py)."""
    return f"{bad_root.rstrip('/')}/dt={date}/manifest_id={manifest_id}/"


def quarantined_lines(s3: Any, prefix_url: str, url: str, source_url: SourceUrl = same_url) -> dict[str, Any]:
    """The quarantine records of one source file under a run's quarantine folder: count, by reason kind, samples."""
    bucket, prefix = split_s3_url(prefix_url)
    count, by_reason, samples = 0, dict[str, int](), list[dict[str, Any]]()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if not name.startswith("bad-records."):  # the job's is_quarantine_file
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            for line in body.splitlines():
                record = _json(line.decode("utf-8", errors="replace"))
                if not isinstance(record, dict) or source_url(str(record.get("source_file"))) != url:
                    continue
                count += 1
                reason = str(record.get("reason", ""))
                kind = reason.split(":", 1)[0]
                by_reason[kind] = by_reason.get(kind, 0) + 1
                if len(samples) < SAMPLE_LINES:
                    samples.append(
                        {
                            "offset": record.get("offset"),
                            "reason": reason,
                            "raw_line": _cut(record.get("raw_line"), MAX_RAW_LINE_CHARS),
                            "quarantine_file": f"s3://{bucket}/{obj['Key']}",
                        }
                    )
    return {"lines": count, "by_reason": by_reason, "samples": samples, "path": prefix_url}


# ------------------------------------------------------------------------------------------ the command


def _stack_for(ctx: OpsContext, arguments: dict[str, str]) -> OpsContext:
    """The stack's names, completed from the Glue run's own arguments where the outputs leave them out."""
    fills = {
        "output_path": arguments.get("--OUTPUT_PATH"),
        "bad_records_path": arguments.get("--BAD_RECORDS_PATH"),
        "glue_database": arguments.get("--CATALOG_DATABASE"),
        "table_format": fmt if (fmt := (arguments.get("--TABLE_FORMAT") or "").lower()) in _FORMATS else None,
    }
    missing = {name: value for name, value in fills.items() if value and not getattr(ctx.stack, name)}
    if not missing:
        return ctx
    return OpsContext(aws=ctx.aws, stack=replace(ctx.stack, **cast(dict[str, Any], missing)))


def _rows_iceberg(
    ctx: OpsContext, date: str, url: str, manifest_id: str, journey: FileJourney, source_url: SourceUrl
) -> int | None:
    from glue_jobs.ndjson_to_parquet.constants import PARTITION_COLUMN
    from glue_jobs.ndjson_to_parquet.iceberg import SUMMARY_MANIFEST, snapshots_with
    from pipeline.ops.lake_table import open_stack_table

    if not is_manifest_id(manifest_id):
        journey.notes.append(f"{manifest_id!r} is not a manifest id: its rows are not counted")
        return None
    table = open_stack_table(ctx, "trace")
    made = snapshots_with(table, SUMMARY_MANIFEST, manifest_id)
    if made:
        snapshot = made[-1]
        summary = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        current = table.current_snapshot()
        ancestors: set[int] = set()
        walk = current
        while walk is not None:
            ancestors.add(walk.snapshot_id)
            walk = table.snapshot_by_id(walk.parent_snapshot_id) if walk.parent_snapshot_id else None
        journey.snapshot = {
            "snapshot_id": snapshot.snapshot_id,
            "committed_at": _time(snapshot.timestamp_ms),
            "operation": str(snapshot.summary.operation.value) if snapshot.summary is not None else None,
            "manifest_id": summary.get(SUMMARY_MANIFEST),
            "added_rows": int(summary.get("added-records", 0)),
            "added_files": int(summary.get("added-data-files", 0)),
            "in_current_table": snapshot.snapshot_id in ancestors,
            "table": f"{ctx.stack.glue_database}.{ctx.stack.glue_table}",
        }
        if len(made) > 1:
            journey.notes.append(
                f"{len(made)} snapshots carry manifest-id {manifest_id}; the newest is shown"
            )
        if snapshot.snapshot_id not in ancestors:
            journey.notes.append(
                "the snapshot is no longer an ancestor of the table's current one (a replay or rollback replaced it)"
            )
    if table.current_snapshot() is None:
        return 0
    # The date and the manifest id are validated names ([0-9a-f-]): safe inside the filter's quotes; the URL is
    # compared in Arrow, never spliced into an expression.
    row_filter = f"{PARTITION_COLUMN} == '{check_date(date)}' and _manifest_id == '{manifest_id}'"
    column = (
        table.scan(row_filter=row_filter, selected_fields=("_source_file",)).to_arrow().column("_source_file")
    )
    return _count_equal(column, url, source_url)


def _count_equal(column: Any, url: str, source_url: SourceUrl) -> int:
    """How many values of a `_source_file` column name `url` (each distinct value mapped once)."""
    import pyarrow.compute as pc

    counts = pc.value_counts(column).to_pylist()
    return sum(int(c["counts"]) for c in counts if c["values"] is not None and source_url(c["values"]) == url)


def _rows_parquet(
    ctx: OpsContext, date: str, url: str, manifest_id: str, source_url: SourceUrl
) -> int | None:
    import pyarrow.parquet as pq

    from glue_jobs.ndjson_to_parquet.constants import PARTITION_COLUMN
    from glue_jobs.ndjson_to_parquet.publish import owned_by

    output = ctx.stack.output_path
    if not output or not output.startswith("s3://"):
        return None
    bucket, prefix = split_s3_url(output.rstrip("/") + f"/{PARTITION_COLUMN}={date}/")
    owned = owned_by(manifest_id)
    s3 = ctx.client("s3")
    rows = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not owned(obj["Key"].rsplit("/", 1)[-1]):
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            column = pq.read_table(io.BytesIO(body), columns=["_source_file"]).column("_source_file")
            rows += _count_equal(column, url, source_url)
    return rows


def _output(
    ctx: OpsContext, journey: FileJourney, date: str, url: str, manifest_id: str, source_url: SourceUrl
) -> None:
    """Rows of this file in the table, its quarantined lines, and (Iceberg) the snapshot of its manifest."""
    report = journey.report or {}
    fmt = str(report.get("table_format") or "")
    if fmt not in _FORMATS:
        from pipeline.ops.lake_table import table_format

        fmt = table_format(ctx)
    output: dict[str, Any] = {"table_format": fmt, "rows_written": None, "rows_source": "table"}
    status = (journey.manifest or {}).get("status")
    if status == "completed":
        try:
            if fmt == "iceberg":
                output["rows_written"] = _rows_iceberg(ctx, date, url, manifest_id, journey, source_url)
            else:
                output["rows_written"] = _rows_parquet(ctx, date, url, manifest_id, source_url)
        except (StackNameMissing, TableNotFound, TableFormatUnsupported) as exc:
            # The rest of the journey stands: say why the rows are not counted and how to get them.
            output["rows_source"] = f"not counted: {exc.message}"
            journey.notes.append(f"rows not counted: {exc.message}")
    else:
        output["rows_written"] = 0
        output["rows_source"] = f"none: the manifest is {status or 'unknown'}, nothing of it is visible"
    bad_root = ctx.stack.bad_records_path
    reported = report.get("bad_records_path")
    if isinstance(reported, str) and reported.startswith("s3://"):
        prefix = reported.rstrip("/") + "/"
    elif bad_root and bad_root.startswith("s3://"):
        prefix = quarantine_prefix(bad_root, date, manifest_id)
    else:
        prefix = None
    if prefix is not None:
        output["quarantine"] = quarantined_lines(ctx.client("s3"), prefix, url, source_url)
    else:
        output["quarantine"] = None
        journey.notes.append(
            "the quarantine location is unknown: pass --bad-records-path or the stack outputs"
        )
    journey.output = output


def _follow(ctx: OpsContext, journey: FileJourney, date: str, url: str, source_url: SourceUrl) -> None:
    item = journey.item
    manifest_id = item.get("manifest_id")
    if not manifest_id:
        journey.notes.append(f"the file is {item.get('status')}: no manifest has claimed it yet")
        return
    s3 = ctx.client("s3")
    found = get_item(ctx.ddb, ctx.table_name, date, manifest_item_key(str(manifest_id)))
    if found is None:
        journey.notes.append(
            f"no MANIFEST item for {manifest_id}: the claim is not recorded yet (`pipeline reconcile --date {date}` "
            "repairs a claim whose invocation died)"
        )
        return
    with_derived_status([item], [found])  # the file's status is its manifest's once that is final
    journey.manifest = manifest_view(found, s3, url, item.get("version_id"))
    arguments: dict[str, str] = {}
    if found.get("execution_arn"):
        sfn = ctx.client("stepfunctions")
        journey.execution, events = execution_view(sfn, str(found["execution_arn"]))
        if journey.execution is None:
            journey.notes.append("the execution is gone from Step Functions (history kept 90 days)")
        job_name, run_id, arguments = glue_run_ref(events)
        job_name = job_name or ctx.stack.glue_job_name
        if job_name and run_id:
            try:
                run = ctx.client("glue").get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            except ClientError as exc:
                if error_code(exc) != "EntityNotFoundException":
                    raise
                journey.notes.append(f"Glue no longer knows job run {run_id}")
            else:
                journey.glue_run = glue_run_view(run)
                arguments = {**{str(k): str(v) for k, v in (run.get("Arguments") or {}).items()}, **arguments}
    run_ctx = _stack_for(ctx, arguments)
    if run_ctx.stack.output_path:
        body = _read_s3(s3, report_key(run_ctx.stack.output_path, str(manifest_id)))
        if body is not None:
            report = json.loads(body)
            journey.report = {
                "path": report_key(run_ctx.stack.output_path, str(manifest_id)),
                **{
                    name: report.get(name)
                    for name in (
                        "status",
                        "error",
                        "table_format",
                        "files",
                        "records_in",
                        "records_out",
                        "bad_records",
                        "bad_records_by_reason",
                        "bytes_in",
                        "bytes_out",
                        "seconds",
                        "bad_records_path",
                        SNAPSHOT_FIELD,
                    )
                    if name in report
                },
            }
    if journey.manifest["status"] in ("completed", "failed") or journey.report:
        _output(run_ctx, journey, date, url, str(manifest_id), source_url)


def trace(ctx: OpsContext, request: TraceRequest, source_url: SourceUrl = same_url) -> Trace:
    ddb, table, s3 = ctx.ddb, ctx.table_name, ctx.client("s3")
    if request.file_key:
        assert request.date is not None
        item = get_item(ddb, table, request.date, request.file_key)
        if item is None:
            raise UnknownFile(
                f"No tracking item {request.file_key} in {request.date}.",
                fix=f"List the date's items with `pipeline status --date {request.date}`, or trace s3://bucket/key.",
            )
        bucket, key, date = str(item["bucket"]), str(item["key"]), request.date
        obj = head_object(s3, bucket, key, item.get("version_id"))
        items = [item]
    else:
        assert request.bucket and request.key
        bucket, key = request.bucket, request.key
        obj = head_object(s3, bucket, key, request.version_id)
        dates = candidate_dates(key, obj.get("last_modified"), request.date)
        if not dates:
            raise UnknownFile(
                f"No object s3://{bucket}/{key}, and its key names no date folder to look in.",
                fix="Pass --date D (the day it was uploaded) to read the tracking items of that date.",
            )
        items, date = [], dates[0]
        for day in dates:
            items = file_items(ddb, table, day, bucket, key, obj.get("etag"))
            if items:
                date = day
                break
        if not items:
            where = " or ".join(dates)
            if obj["exists"]:
                raise FileNotTracked(
                    f"s3://{bucket}/{key} exists but the pipeline never tracked it (no item in {where}).",
                    fix="Check that its prefix and suffix match the bucket notification, then "
                    f"`pipeline backfill --bucket {bucket} --prefix {key}` tracks it.",
                )
            raise UnknownFile(
                f"No object s3://{bucket}/{key} and no tracking item for it in {where}.",
                fix=f"Check the URL (`aws s3 ls s3://{bucket}/{key.rsplit('/', 1)[0]}/`), or pass --date D if the "
                "file was tracked under another date.",
            )
        if request.version_id:
            wanted = [i for i in items if i.get("version_id") == request.version_id]
            if not wanted:
                known = ", ".join(str(i.get("version_id")) for i in items)
                raise VersionNotTracked(
                    f"Version {request.version_id} of s3://{bucket}/{key} was never tracked (tracked: {known}).",
                    fix="Trace without --version-id to see every tracked content of the key.",
                )
            items = wanted
    url = s3_url(bucket, key)
    journeys = []
    for item in with_derived_status(items, []):  # as stored until _follow reads the item's MANIFEST item
        current = (item.get("etag") == obj.get("etag")) if obj.get("exists") else None
        journey = FileJourney(item=item, current=current)
        _follow(ctx, journey, date, url, source_url)
        journeys.append(journey)
    return Trace(url=url, date=date, object=obj, journeys=journeys)
