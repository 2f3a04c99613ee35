"""`pipeline retry`: run failed manifests again, each attempt under a new execution name.

For one manifest M of date D:

1. The MANIFEST item must be `failed`, or `pending`/`processing` with an execution that ended without success
   (e.g. `Pipeline.StatusUpdateFailed`); a completed or still running manifest is refused.
2. One conditional write moves it back to `pending` with `attempts = n + 1` (conditional on the status and
   attempt count read, so two operators retrying at once start one attempt, not two), clearing error and cause.
3. Its files read as `manifested` again by themselves (completion by reference: a file's status is its manifest's
   once that is final). One conditional write per file (`requeue_files`, on `manifest_id = M`) refreshes their TTL
   and puts items stored `failed` by the code before that rule back to `manifested`.
4. The manifest object is checked (and rebuilt from the file items if a lifecycle rule expired it), then the
   execution `<M>-r<n+1>` starts with the same input as the first one. Started twice, it is the same execution.
5. A start that fails puts the MANIFEST item back to `failed` (`RetryStartFailed`), and with it its files.

The Glue job replaces exactly its own manifest's output, so a retried run never duplicates records. The state
machine's "mark processing" step and the status update work unchanged on the retried manifest.

A manifest whose entries carry object versions (a versioned input bucket) reads exactly the versions it claimed,
so a key overwritten since is no reason to refuse: only a claimed version that no longer exists is. An entry
without a version (an unversioned bucket) reads the key's current content: once that content was replaced (a new
ETag, tracked and converted on its own), the retry is refused, as before versions were tracked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.errors import ManifestNotFound
from pipeline.contracts.manifest import EXECUTION_NAME, Manifest, split_s3_url
from pipeline.control_plane.adapters.backoff import error_code
from pipeline.control_plane.adapters.codec import plain
from pipeline.control_plane.domain.items import manifest_item_key
from pipeline.control_plane.domain.states import FINAL_MANIFEST_STATUSES, ManifestStatus
from pipeline.control_plane.domain.times import claim_expires_at, iso_now, utc_now
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import ManifestNotRetryable, RetryStartFailed
from pipeline.ops.table_reads import read_date

ENDED_BADLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
# head_object of a key or version that does not exist (a malformed version id answers 400 InvalidArgument)
MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion", "400", "InvalidArgument"})


@dataclass
class RetryOutcome:
    manifest_id: str
    date_prefix: str
    attempt: int
    execution_name: str
    execution_arn: str | None = None
    files: int = 0
    rebuilt_manifest: bool = False
    final_status: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RetryBatch:
    outcomes: list[RetryOutcome] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and all(
            o.final_status in (None, ManifestStatus.COMPLETED) for o in self.outcomes
        )


def execution_name(manifest_id: str, attempt: int) -> str:
    """`<manifest_id>-r<attempt>` (attempt 1 is the original execution, named after the manifest)."""
    name = manifest_id if attempt <= 1 else f"{manifest_id}-r{attempt}"
    if not EXECUTION_NAME.fullmatch(name):
        raise ManifestNotRetryable(f"The execution name {name!r} would not be a valid Step Functions name.")
    return name


def find_manifest(ctx: OpsContext, manifest_id: str) -> dict[str, Any]:
    """The MANIFEST item of an id, found through the manifest index (no need to know its date)."""
    tracking = ctx.tracking()
    key = tracking.find_manifest_key(manifest_id)
    if key is None:
        raise ManifestNotFound(
            f"No MANIFEST item has the id {manifest_id}; check the id with `pipeline status`."
        )
    item = tracking.get_item(*key)
    if not item:
        raise ManifestNotFound(f"The MANIFEST item of {manifest_id} vanished while it was read.")
    return plain(item)


def _execution_status(ctx: OpsContext, arn: str | None) -> str | None:
    if not arn:
        return None
    try:
        return str(ctx.client("stepfunctions").describe_execution(executionArn=arn)["status"])
    except ClientError as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return None
        raise


def check_retryable(ctx: OpsContext, item: dict[str, Any]) -> None:
    status = item.get("status")
    manifest_id = item["manifest_id"]
    if status == ManifestStatus.FAILED:
        return
    if status == ManifestStatus.COMPLETED:
        raise ManifestNotRetryable(
            f"Manifest {manifest_id} is completed; to reprocess its date use `pipeline replay --date "
            f"{item['date_prefix']}`."
        )
    execution = _execution_status(ctx, item.get("execution_arn"))
    if execution in ENDED_BADLY:
        return
    raise ManifestNotRetryable(
        f"Manifest {manifest_id} is {status} and its execution is {execution or 'unknown'}; wait for it to end "
        "(or run `pipeline reconcile`)."
    )


def _reset_manifest(ctx: OpsContext, item: dict[str, Any], attempt: int, name: str) -> None:
    seen_attempts = int(item["attempts"]) if "attempts" in item else None
    if not ctx.tracking().reset_manifest_for_retry(
        item["date_prefix"], item["manifest_id"], str(item["status"]), seen_attempts, attempt, name, iso_now()
    ):
        raise ManifestNotRetryable(
            f"Manifest {item['manifest_id']} changed while it was being retried (someone else retried it?)."
        )


def _mark_failed(ctx: OpsContext, item: dict[str, Any], attempt: int, cause: str) -> None:
    ctx.tracking().mark_retry_failed(
        item["date_prefix"], item["manifest_id"], attempt, "RetryStartFailed", cause, iso_now()
    )


def _ensure_manifest_object(ctx: OpsContext, item: dict[str, Any], files: list[dict[str, Any]]) -> bool:
    """True when the manifest object had to be rebuilt from the file items."""
    path = item.get("manifest_path") or ctx.manifest_store().path_for(
        item["date_prefix"], item["manifest_id"]
    )
    bucket, key = split_s3_url(path)
    try:
        ctx.client("s3").head_object(Bucket=bucket, Key=key)
        return False
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    manifest = Manifest.build(
        item["manifest_id"],
        item["date_prefix"],
        str(item.get("created_at") or iso_now()),
        [(f["bucket"], f["key"], int(f.get("size", 0)), f.get("version_id") or None) for f in files],
    )
    ctx.client("s3").put_object(
        Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json"
    )
    return True


def _manifest_files(ctx: OpsContext, manifest_id: str, date_prefix: str) -> list[dict[str, Any]]:
    """The manifest's file items, read in full from the base table (bucket and key are not in the index)."""
    tracking = ctx.tracking()
    keys = [f.file_key for f in tracking.query_manifest_files(manifest_id) if f.date_prefix == date_prefix]
    return [plain(i) for i in tracking.batch_get([(date_prefix, k) for k in keys], consistent=True)]


def _replaced_inputs(ctx: OpsContext, files: list[dict[str, Any]]) -> list[str]:
    """s3:// URLs of the manifest's objects whose tracked content can no longer be read.

    With a ``version_id`` the entry reads that version: it counts as replaced only when the version is gone.
    Without one the manifest names a key, not a version: once that key was overwritten (a new ETag, tracked and
    converted on its own) or deleted, a retry would read the new content and convert it a second time.
    """
    s3 = ctx.client("s3")
    replaced: list[str] = []
    for f in files:
        bucket, key, etag = f.get("bucket"), f.get("key"), str(f.get("etag") or "").strip('"')
        version_id = f.get("version_id")
        if not bucket or not key:
            continue
        where = f"s3://{bucket}/{key}"
        try:
            if version_id:
                s3.head_object(Bucket=bucket, Key=key, VersionId=str(version_id))
                continue
            current = str(s3.head_object(Bucket=bucket, Key=key).get("ETag", "")).strip('"')
        except ClientError as exc:
            if error_code(exc) in MISSING:
                replaced.append(where if not version_id else f"{where} (version {version_id})")
                continue
            raise
        if etag and current != etag:
            replaced.append(where)
    return replaced


def retry_manifest(ctx: OpsContext, manifest_id: str) -> RetryOutcome:
    item = find_manifest(ctx, manifest_id)
    check_retryable(ctx, item)
    date_prefix = str(item["date_prefix"])
    attempt = int(item.get("attempts", 1) or 1) + 1
    name = execution_name(manifest_id, attempt)
    outcome = RetryOutcome(manifest_id, date_prefix, attempt, name)
    files = _manifest_files(ctx, manifest_id, date_prefix)
    if not files:
        raise ManifestNotRetryable(
            f"Manifest {manifest_id} has no file items any more (expired by the table's TTL?): there is nothing "
            "to run; re-drop the files or backfill them."
        )
    replaced = _replaced_inputs(ctx, files)
    if replaced:
        raise ManifestNotRetryable(
            f"Manifest {manifest_id} reads {len(replaced)} object(s) replaced or deleted since it was built "
            f"({', '.join(replaced[:3])}{', ...' if len(replaced) > 3 else ''}): a replaced object's new content "
            "is tracked and converted on its own, so a retry would convert it twice (an entry with a version id "
            "is refused only when that version is gone). Leave this manifest failed (its quarantine stays as the "
            "record), or restore the original content and retry."
        )
    _reset_manifest(ctx, item, attempt, name)
    tracking = ctx.tracking()
    config = ctx.config()
    now = iso_now()
    ttl = claim_expires_at(utc_now(), config.ttl_days)  # as a claim's
    file_keys = [f["file_key"] for f in files]
    try:
        # The manifest back to pending makes its `manifested` files read as running again; the write per file
        # refreshes their TTL (a retry may come long after the claim) and puts items stored `failed` (written
        # before completion by reference) back to `manifested`.
        outcome.files = tracking.requeue_files(date_prefix, file_keys, manifest_id, now, ttl)
        outcome.rebuilt_manifest = _ensure_manifest_object(ctx, item, files)
        payload = {
            "manifest_id": manifest_id,
            "manifest_path": item.get("manifest_path")
            or ctx.manifest_store().path_for(date_prefix, manifest_id),
            "date_prefix": date_prefix,
            "file_count": int(item.get("file_count", len(files)) or len(files)),
            "file_key": manifest_item_key(manifest_id),
        }
        outcome.execution_arn = ctx.executions().start(name, payload)
    except Exception as exc:
        cause = f"{type(exc).__name__}: {exc}"
        _mark_failed(ctx, item, attempt, cause)  # its files read as failed again, by reference
        raise RetryStartFailed(
            f"Retry {attempt} of manifest {manifest_id} could not start: {cause}."
        ) from exc
    tracking.set_execution_arn(date_prefix, manifest_id, outcome.execution_arn)
    return outcome


def failed_manifests(ctx: OpsContext, dates: list[str]) -> list[str]:
    found: list[str] = []
    for date_prefix in dates:
        for item in read_date(ctx.ddb, ctx.table_name, date_prefix).manifests:
            if item.get("status") == ManifestStatus.FAILED and not item.get("superseded_by"):
                found.append(str(item["manifest_id"]))
    return found


def wait_final(
    ctx: OpsContext,
    outcomes: list[RetryOutcome],
    timeout: float,
    poll: float = 2.0,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Poll the MANIFEST items until each is completed or failed (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    waiting = {o.manifest_id: o for o in outcomes if o.execution_arn}
    tracking = ctx.tracking()
    while waiting and time.monotonic() < deadline:
        for manifest_id, outcome in list(waiting.items()):
            item = tracking.get_item(outcome.date_prefix, manifest_item_key(manifest_id))
            status = plain(item).get("status") if item else None
            if status in FINAL_MANIFEST_STATUSES:
                outcome.final_status = str(status)
                outcome.error = plain(item).get("error") if item else None
                del waiting[manifest_id]
        if progress is not None:
            progress(len(outcomes) - len(waiting), len(outcomes))
        if waiting:
            time.sleep(poll)
    for outcome in waiting.values():
        outcome.final_status = "timeout"
