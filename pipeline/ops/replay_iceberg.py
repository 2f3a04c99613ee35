"""The Iceberg steps of `pipeline replay --date D` (the table format `--TABLE_FORMAT iceberg`).

- **begin** (instead of copying the output): S0 = main's current snapshot; an Iceberg branch `replay-<id>` is
  created at S0 and the marker `<OUTPUT>/_replays/active/dt=D.json` written (glue_jobs/ndjson_to_parquet/replays.py):
  from then on the job commits D's manifests to that branch, and readers of main keep reading the old data. The
  date is checked idle again once the marker exists (a manifest that started before it would commit to main), then
  the live files of D on main are recorded in `<OUTPUT>/_replays/<id>/replaced-dt=D.json` (an S3 object: a date of
  thousands of files does not fit a 400 KB tracking item; the item records S0, the branch and the count).
- **swap**: the marker is deleted first (new manifests of D commit to main again), the manifests of D that were
  running then are waited for (they may still commit to the branch), then ONE overwrite commit on main deletes
  exactly the recorded files and adds every data file the branch's snapshots added since S0 (the live entries of the
  branch head's manifests with a data sequence number above S0's: no Parquet rewritten), summary `pipeline-operation=replay`, `replay-id`; then the branch is removed. The commit's
  parent is main's head at swap time: appends of other dates (and of D after the marker was gone) are kept.
  `table.scan(snapshot_id=S0)` still shows the old data (time travel), until snapshot expiry.

Every step is idempotent, so an interrupted replay resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from glue_jobs.ndjson_to_parquet import iceberg, replays
from glue_jobs.ndjson_to_parquet.constants import PARTITION_COLUMN
from pipeline.contracts.manifest import split_s3_url
from pipeline.ops import lake_table
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import ReplayFailed

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

logger = logging.getLogger(__name__)

COMMIT_ATTEMPTS = 10  # each a fresh plan; a busy table makes the serializable check refuse a few


class ReplayConflict(ReplayFailed):
    error_name = "ReplayConflict"


# ------------------------------------------------------------------------------------------ which table


def _job_name_from_state_machine(ctx: OpsContext) -> str | None:
    """The Glue job the state machine starts (its `glue:startJobRun` task's JobName), for stack outputs that name
    no job."""
    try:
        arn = ctx.state_machine_arn
        response = ctx.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
        definition = json.loads(response["definition"])
    except Exception as exc:  # no state machine known or readable: the format falls back to the default
        logger.info("cannot read the state machine to find the Glue job: %s", exc)
        return None

    def walk(node: Any) -> str | None:
        if isinstance(node, dict):
            if "glue:startJobRun" in str(node.get("Resource", "")):
                name = (node.get("Parameters") or node.get("Arguments") or {}).get("JobName")
                if isinstance(name, str):
                    return name
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            return None
        for child in children:
            if found := walk(child):
                return found
        return None

    return walk(definition)


def table_format(ctx: OpsContext) -> str:
    """`iceberg` or `parquet` (pipeline.ops.lake_table: the stack output, else the Glue job's --TABLE_FORMAT, else
    parquet); a stack whose outputs name no Glue job is asked through its state machine's Glue task."""
    if ctx.stack.table_format or ctx.stack.glue_job_name:
        return lake_table.table_format(ctx)
    name = _job_name_from_state_machine(ctx)
    if not name:
        return "parquet"
    return lake_table.table_format(OpsContext(ctx.aws, dataclasses.replace(ctx.stack, glue_job_name=name)))


@dataclass(frozen=True)
class TableHandle:
    """The stack's Iceberg table: its catalog and reference (location = the output path)."""

    catalog: Catalog
    ref: iceberg.TableRef

    def load(self) -> Table:
        table = iceberg.load_table(self.catalog, self.ref)
        if table is None:
            raise ReplayFailed(
                f"The Iceberg table {self.ref.shown} does not exist: there is nothing to replay."
            )
        return table


def open_table(ctx: OpsContext) -> TableHandle:
    """The stack's table through pyiceberg's Glue catalog, with the operator session's endpoint and credentials."""
    return TableHandle(lake_table.stack_catalog(ctx), lake_table.table_ref(ctx))


# ------------------------------------------------------------------------------------------ S3 documents


def _s3_key(output_path: str, *parts: str) -> tuple[str, str]:
    bucket, prefix = split_s3_url(output_path.rstrip("/") + "/")
    return bucket, prefix + "/".join(parts)


def marker_key(output_path: str, date_prefix: str) -> tuple[str, str]:
    return _s3_key(output_path, *replays.ACTIVE_DIR, f"dt={date_prefix}.json")


def replaced_key(output_path: str, replay_id: str, date_prefix: str) -> tuple[str, str]:
    return _s3_key(output_path, "_replays", replay_id, f"replaced-dt={date_prefix}.json")


def _get(s3: Any, where: tuple[str, str]) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket=where[0], Key=where[1])["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def read_marker(s3: Any, output_path: str, date_prefix: str) -> replays.ReplayMarker | None:
    where = marker_key(output_path, date_prefix)
    data = _get(s3, where)
    return replays.decode(data, f"s3://{where[0]}/{where[1]}") if data is not None else None


# ------------------------------------------------------------------------------------------ begin


def _live_files(table: Table, date_prefix: str, snapshot_id: int | None = None) -> dict[str, DataFile]:
    from pyiceberg.expressions import EqualTo

    if snapshot_id is None and table.current_snapshot() is None:
        return {}
    row_filter = cast(Any, EqualTo)(PARTITION_COLUMN, date_prefix)  # pydantic's signature confuses mypy
    scan = table.scan(row_filter=row_filter, snapshot_id=snapshot_id)
    return {task.file.file_path: task.file for task in scan.plan_files()}


def open_branch(
    handle: TableHandle, s3: Any, output_path: str, date_prefix: str, replay_id: str
) -> dict[str, Any]:
    """Branch `replay-<id>` at main's current snapshot S0 and the date's marker (both idempotent)."""
    marker = read_marker(s3, output_path, date_prefix)
    if marker is not None and marker.replay_id != replay_id:
        raise ReplayConflict(
            f"Date {date_prefix} is being replayed by {marker.replay_id} (marker {marker_key(output_path, date_prefix)[1]}"
            "): finish that replay first."
        )
    table = handle.load()
    branch = replays.branch_name(replay_id)
    if marker is None:
        ref = table.metadata.refs.get(branch)
        if ref is None:  # a fresh start (else: interrupted between the branch and the marker)
            current = table.current_snapshot()
            if current is None:
                raise ReplayFailed(
                    f"The table {handle.ref.shown} has no snapshot yet: there is nothing to replay."
                )
            table.manage_snapshots().create_branch(current.snapshot_id, branch).commit()
            snapshot_id = current.snapshot_id
        else:
            snapshot_id = ref.snapshot_id
        marker = replays.ReplayMarker(replay_id, branch, snapshot_id)
        bucket, key = marker_key(output_path, date_prefix)
        s3.put_object(Bucket=bucket, Key=key, Body=replays.encode(marker), ContentType="application/json")
    return {"iceberg_snapshot_id": marker.snapshot_id, "iceberg_branch": marker.branch}


def record_replaced(handle: TableHandle, s3: Any, output_path: str, date_prefix: str, replay_id: str) -> int:
    """The live files of D on main now (the marker exists and the date was idle): what the swap deletes."""
    where = replaced_key(output_path, replay_id, date_prefix)
    existing = _get(s3, where)
    if existing is not None:
        return len(json.loads(existing)["files"])
    table = handle.load()
    marker = read_marker(s3, output_path, date_prefix)
    base = table.snapshot_by_id(marker.snapshot_id) if marker is not None else None
    if marker is None or marker.replay_id != replay_id or base is None:
        raise ReplayFailed(
            f"Replay {replay_id} of {date_prefix} has no marker or base snapshot: run it again."
        )
    files = sorted(_live_files(table, date_prefix))
    document = {
        "replay_id": replay_id,
        "date_prefix": date_prefix,
        "base_snapshot_id": base.snapshot_id,
        "base_sequence_number": base.sequence_number,  # what the branch added has a higher one
        "files": files,
    }
    body = json.dumps(document).encode()
    s3.put_object(Bucket=where[0], Key=where[1], Body=body, ContentType="application/json")
    return len(files)


def abandon(handle: TableHandle, s3: Any, output_path: str, date_prefix: str, replay_id: str) -> None:
    """Undo open_branch (the date turned out busy): marker, then branch."""
    marker = read_marker(s3, output_path, date_prefix)
    if marker is not None and marker.replay_id == replay_id:
        bucket, key = marker_key(output_path, date_prefix)
        s3.delete_object(Bucket=bucket, Key=key)
    _remove_branch(handle, replays.branch_name(replay_id))


# ------------------------------------------------------------------------------------------ swap


def _remove_branch(handle: TableHandle, branch: str) -> None:
    table = handle.load()
    if branch in table.metadata.refs:
        table.manage_snapshots().remove_branch(branch).commit()


def _replay_snapshot(table: Table, replay_id: str) -> int | None:
    found = iceberg.snapshots_with(table, iceberg.SUMMARY_REPLAY, replay_id)
    return found[0].snapshot_id if found else None


def branch_added_files(table: Table, branch: str, base_sequence_number: int) -> list[DataFile]:
    """The data files the branch's snapshots added since it was created at S0 and that are live at its head: the
    live entries of the head's data manifests whose data sequence number is above S0's. Sequence numbers rather than
    a walk of the parent chain or the ADDED status: an entry stays EXISTING (with its own sequence number) after a
    manifest merge, and an expired intermediate snapshot breaks no chain (branch heads are never expired)."""
    from pyiceberg.manifest import ManifestContent

    head = table.snapshot_by_name(branch)
    if head is None:
        raise ReplayFailed(f"The branch {branch} does not exist: the replay's new data cannot be found.")
    files: list[DataFile] = []
    for manifest in head.manifests(table.io):
        if manifest.content != ManifestContent.DATA or manifest.sequence_number <= base_sequence_number:
            continue  # a manifest written at or before S0 holds no entry added after it
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.sequence_number is not None and entry.sequence_number > base_sequence_number:
                files.append(entry.data_file)
    return files


def _overwrite(table: Table, delete: list[DataFile], add: list[DataFile], properties: dict[str, str]) -> int:
    transaction = table.transaction()
    with transaction.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in delete:
            overwrite.delete_data_file(data_file)
        for data_file in add:
            overwrite.append_data_file(data_file)
    committed = transaction.commit_transaction()
    found = _replay_snapshot(committed, properties[iceberg.SUMMARY_REPLAY])
    if found is None:
        raise ReplayFailed("The replay's overwrite commit returned a table without its snapshot.")
    return found


def _commit_swap(
    handle: TableHandle, s3: Any, output_path: str, date_prefix: str, marker: dict[str, Any]
) -> int:
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    replay_id = str(marker["replay_id"])
    data = _get(s3, replaced_key(output_path, replay_id, date_prefix))
    if data is None:
        raise ReplayFailed(
            f"The record of the files replay {replay_id} replaces is missing: cannot swap safely."
        )
    document = json.loads(data)
    replaced, base_sequence_number = list(document["files"]), int(document["base_sequence_number"])
    properties = {iceberg.SUMMARY_OPERATION: "replay", iceberg.SUMMARY_REPLAY: replay_id}
    last: Exception | None = None
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = handle.load()
        if (done := _replay_snapshot(table, replay_id)) is not None:
            return done
        live = _live_files(table, date_prefix)
        gone = [path for path in replaced if path not in live]
        if gone:
            # Skipping them would keep their rows (rewritten elsewhere) next to the replay's: refuse.
            raise ReplayConflict(
                f"{len(gone)} of the {len(replaced)} files replay {replay_id} replaces are no longer live on main "
                f"(e.g. {gone[0]}: rewritten by a compaction of {date_prefix}?); the branch "
                f"{marker['branch']} keeps the new data: compare, then resolve by hand."
            )
        added = branch_added_files(table, str(marker["branch"]), base_sequence_number)
        try:
            return _overwrite(table, [live[path] for path in replaced], added, properties)
        except (CommitFailedException, ValidationException) as exc:
            # did not land: pyiceberg's default serializable isolation refuses an overwrite when data files were
            # added anywhere since its plan (a batch of another date): plan again on the fresh table
            last = exc
            logger.warning("replay swap of %s failed (%s), attempt %d", date_prefix, exc, attempt)
        except ReplayFailed:
            raise
        except Exception as exc:  # outcome unknown: the next attempt looks for the replay's snapshot first
            last = exc
            logger.warning("replay swap of %s ended with %r: checking the table", date_prefix, exc)
        time.sleep(min(0.2 * 2**attempt, 5.0))
    raise ReplayFailed(
        f"Could not commit replay {replay_id} of {date_prefix} after {COMMIT_ATTEMPTS} attempts: {last}."
    )


def swap(
    handle: TableHandle,
    s3: Any,
    output_path: str,
    date_prefix: str,
    replay: dict[str, Any],
    wait_for_running: Callable[[], None],
) -> int:
    """Marker off, wait for the manifests that may still commit to the branch, one overwrite, branch off."""
    replay_id = str(replay["replay_id"])
    state: dict[str, Any] = {
        "replay_id": replay_id,
        "branch": str(replay.get("iceberg_branch") or replays.branch_name(replay_id)),
        "snapshot_id": int(replay["iceberg_snapshot_id"]),
    }
    marker = read_marker(s3, output_path, date_prefix)
    if marker is not None and marker.replay_id == replay_id:
        bucket, key = marker_key(output_path, date_prefix)
        s3.delete_object(Bucket=bucket, Key=key)
    wait_for_running()
    snapshot_id = _commit_swap(handle, s3, output_path, date_prefix, state)
    _remove_branch(handle, state["branch"])
    return snapshot_id
