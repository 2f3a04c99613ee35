"""Following a drop: what the tracking table, the executions and the Glue runner's records say, as a `Snapshot`.

The run only watches; it never drives the pipeline. It reads the tracking table with a projection of the attributes
it needs, and when time runs out names the files and batches that did not reach a final state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from pipeline.contracts.errors import PipelineError
from pipeline.control_plane.domain.items import MANIFEST_KEY_PREFIX
from pipeline.embedded.drop import DropFile
from pipeline.embedded.glue_runner import GlueRunner
from pipeline.embedded.layout import StackOutputs
from pipeline.embedded.server import harness_client
from pipeline.embedded.summary import Snapshot
from pipeline.ops.table_reads import with_derived_status

FINAL_FILE_STATES = ("completed", "failed")
FINAL_MANIFEST_STATES = ("completed", "failed")
FOLLOW_INTERVAL_SECONDS = 0.5  # between two looks at the tracking table, at least
# What following and verifying read from the tracking table (file items and MANIFEST items): a projection, because
# moto serialises every attribute of every scanned item (docs/scaling.md#following-a-large-drop).
SNAPSHOT_ATTRIBUTES = (
    "file_key",
    "bucket",
    "key",
    "status",
    "manifest_id",
    "date_prefix",
    "file_count",
    "execution_arn",
    "records_in",
    "records_out",
    "bad_records",
    "output_files",
    "bytes_out",
    "error",
    "job_error",  # a failed batch: the Glue job's error name, and the caught cause holding its sentence
    "cause",
    "snapshot_id",  # Iceberg: the snapshot of the manifest's commit (when the status update keeps it)
    "commit",
    "table_format",
)

Expected = dict[tuple[str, str], DropFile]
FileStatus = dict[tuple[str, str], str]


def scan(table: str, attributes: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    client = harness_client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table}
    if attributes:
        kwargs["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
        kwargs["ExpressionAttributeNames"] = {f"#a{i}": name for i, name in enumerate(attributes)}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            yield {k: attr_value(v) for k, v in item.items()}
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def take_snapshot(
    outputs: StackOutputs, expected: Expected, glue_runner: GlueRunner | None, records_total: int
) -> tuple[Snapshot, FileStatus, list[dict[str, Any]]]:
    """Files by state, batches, Glue runs and records converted so far, read in one scan of the tracking table."""
    file_status: dict[tuple[str, str], str] = {}
    manifests: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for item in scan(outputs.tracking_table, SNAPSHOT_ATTRIBUTES):
        file_key = str(item.get("file_key", ""))
        if file_key.startswith(MANIFEST_KEY_PREFIX):
            manifests.append(item)
        elif "bucket" in item and "key" in item:
            files.append(item)
    for item in with_derived_status(files, manifests):  # a file's status is its manifest's once that is final
        file_status[(str(item["bucket"]), str(item["key"]))] = str(item.get("status"))
    glue_runs = list(glue_runner.runs) if glue_runner else []
    statuses = [file_status.get(key) for key in expected]
    snapshot = Snapshot(
        files_total=len(expected),
        files_tracked=sum(1 for s in statuses if s is not None),
        files_completed=sum(1 for s in statuses if s == "completed"),
        files_failed=sum(1 for s in statuses if s == "failed"),
        manifests_started=len(manifests),
        manifests_final=sum(1 for m in manifests if m.get("status") in FINAL_MANIFEST_STATES),
        glue_runs_started=len(glue_runs),
        glue_runs_done=sum(1 for r in glue_runs if r.status != "RUNNING"),
        records_total=records_total,
        records_converted=sum(
            int((r.report or {}).get("records_out", 0)) + int((r.report or {}).get("bad_records", 0))
            for r in glue_runs
        ),
    )
    return snapshot, file_status, manifests


def executions_running(outputs: StackOutputs) -> int:
    sfn = harness_client("stepfunctions")
    page = sfn.list_executions(stateMachineArn=outputs.state_machine_arn, statusFilter="RUNNING")
    return len(page.get("executions", []))


def raise_timeout(
    snapshot: Snapshot,
    file_status: dict[tuple[str, str], str],
    manifests: list[dict[str, Any]],
    expected: Expected,
    timeout_seconds: float,
    logs: Path,
) -> NoReturn:
    stuck = [
        f"s3://{b}/{k} ({file_status.get((b, k), 'not tracked')})"
        for b, k in expected
        if file_status.get((b, k)) not in FINAL_FILE_STATES
    ]
    open_manifests = [
        f"{m.get('manifest_id')} ({m.get('status')})"
        for m in manifests
        if m.get("status") not in FINAL_MANIFEST_STATES
    ]
    detail = "; ".join(stuck[:5]) + (f" and {len(stuck) - 5} more" if len(stuck) > 5 else "")
    if open_manifests:
        detail += "; open batches: " + ", ".join(open_manifests[:5])
    raise PipelineError.named(
        "PipelineTimeout",
        f"{len(stuck)} of {snapshot.files_total} files did not reach a final state within "
        f"{timeout_seconds:.0f}s: {detail}.",
        f"Look at {logs}/lambda.log and glue.log, or raise --timeout.",
    )


def attr_value(value: Mapping[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        number = value["N"]
        return int(number) if number.lstrip("-").isdigit() else float(number)
    if "BOOL" in value:
        return value["BOOL"]
    if "NULL" in value:
        return None
    if "M" in value:
        return {k: attr_value(v) for k, v in value["M"].items()}
    if "L" in value:
        return [attr_value(v) for v in value["L"]]
    return value
