"""`pipeline reconcile`: the manifest builder's crash repair on demand, plus the repair of lost status updates.

Two kinds of damage, both found without scanning the table:

1. **Open claims** (the Lambda died between claiming files and recording the MANIFEST item): the control plane's
   own `ControlPlane.repair` does the work, exactly as the scheduled flush would: if an execution named after the
   manifest exists, the missing MANIFEST item is written; otherwise the files are rolled back to `pending` and the
   manifest object deleted. Found through `open-claims-index`, older than the grace period.
2. **Unfinished MANIFEST items whose execution has ended** (the status update itself failed: the execution ends
   in `Pipeline.StatusUpdateFailed`, or in a failure whose `failed` update was lost): the control plane's
   `complete` is called with what really happened: `completed` with the job report read from
   `<output>/_reports/<id>.json` when the Glue job succeeded, `failed` with the execution's error otherwise.
   Found in the dates asked about (one query per date). A manifest completed this way is also registered in the
   Glue catalog (when the stack names a Glue database), as the status update would have done.

3. **Missing catalog partitions**: dates with completed manifests but no `dt` partition in the Glue catalog (a
   registration that failed) are registered from the manifests' job reports.

`--dry-run` reports what would be done and changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.manifest import split_s3_url
from pipeline.contracts.report import report_key
from pipeline.control_plane.adapters.backoff import error_code
from pipeline.control_plane.adapters.catalog import get_partition_location, register_manifest_output
from pipeline.control_plane.adapters.tracking import TrackingTable
from pipeline.control_plane.adapters.tracking_records import OpenClaim
from pipeline.control_plane.domain.events import CompleteRequest
from pipeline.control_plane.domain.states import FileStatus, ManifestStatus
from pipeline.control_plane.domain.times import iso, utc_now
from pipeline.ops.context import OpsContext
from pipeline.ops.lake_table import table_format
from pipeline.ops.table_reads import read_date

STATUS_UPDATE_FAILED = "Pipeline.StatusUpdateFailed"
CLAIM_PAGE = 25


class DateScopedTable(TrackingTable):
    """The control plane's table adapter, with the open claims limited to one date (for `--date`)."""

    def __init__(
        self, client: Any, table_name: str, retry: Any, pending_shards: int, *, only_date: str
    ) -> None:
        super().__init__(client, table_name, retry, pending_shards)
        self.only_date = only_date

    def open_claims_before(self, cutoff: str, limit: int) -> list[OpenClaim]:
        claims = super().open_claims_before(cutoff, 1000)
        return [c for c in claims if c.date_prefix == self.only_date][:limit]


@dataclass
class ClaimAction:
    date_prefix: str
    manifest_id: str
    claimed_at: str
    action: str  # "record manifest" | "roll back files"
    files: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ManifestAction:
    date_prefix: str
    manifest_id: str
    status: str
    execution_status: str
    action: str  # "complete" | "fail"
    error: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class CatalogAction:
    date_prefix: str
    action: str  # "register partition"
    manifests: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ReconcileResult:
    dry_run: bool
    claims: list[ClaimAction] = field(default_factory=list)
    manifests: list[ManifestAction] = field(default_factory=list)
    catalog: list[CatalogAction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "claims": [c.as_dict() for c in self.claims],
            "manifests": [m.as_dict() for m in self.manifests],
            "catalog": [c.as_dict() for c in self.catalog],
            "problems": self.problems,
            "ok": self.ok,
        }


def plan_claims(ctx: OpsContext, table: TrackingTable, grace_seconds: int) -> list[ClaimAction]:
    """What `ControlPlane.repair` would do with every open claim older than the grace period (reads only)."""
    cutoff = iso(utc_now() - timedelta(seconds=grace_seconds))
    executions = ctx.executions()
    actions: list[ClaimAction] = []
    for claim in table.open_claims_before(cutoff, 1000):
        files = list(table.query_manifest_files(claim.manifest_id))
        exists = executions.find(claim.manifest_id) is not None
        actions.append(
            ClaimAction(
                claim.date_prefix,
                claim.manifest_id,
                claim.claimed_at,
                "record manifest" if exists else "roll back files",
                sum(1 for f in files if f.status != FileStatus.PENDING),
            )
        )
    return actions


def _report_for(ctx: OpsContext, manifest_id: str) -> dict[str, Any] | None:
    if not ctx.stack.output_path:
        return None
    bucket, prefix = split_s3_url(ctx.stack.output_path.rstrip("/") + "/")
    try:
        body = ctx.client("s3").get_object(Bucket=bucket, Key=report_key(prefix, manifest_id))["Body"].read()
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    report = json.loads(body)
    return report if isinstance(report, dict) else None


def plan_manifests(ctx: OpsContext, dates: list[str]) -> list[ManifestAction]:
    """Unfinished MANIFEST items of the dates whose execution has ended (reads only)."""
    sfn = ctx.client("stepfunctions")
    actions: list[ManifestAction] = []
    for date_prefix in dates:
        for item in read_date(ctx.ddb, ctx.table_name, date_prefix).manifests:
            if item.get("status") not in (ManifestStatus.PENDING, ManifestStatus.PROCESSING) or not item.get(
                "execution_arn"
            ):
                continue
            try:
                described = sfn.describe_execution(executionArn=item["execution_arn"])
            except ClientError as exc:
                if error_code(exc) != "ExecutionDoesNotExist":
                    raise
                actions.append(
                    ManifestAction(
                        date_prefix,
                        item["manifest_id"],
                        item["status"],
                        "MISSING",
                        "none",
                        note="the execution no longer exists (history expired?): retry it",
                    )
                )
                continue
            status = str(described["status"])
            if status == "RUNNING":
                continue
            error = described.get("error")
            if status == "SUCCEEDED" or error == STATUS_UPDATE_FAILED:
                actions.append(
                    ManifestAction(
                        date_prefix, item["manifest_id"], item["status"], status, "complete", error
                    )
                )
            else:
                actions.append(
                    ManifestAction(
                        date_prefix,
                        item["manifest_id"],
                        item["status"],
                        status,
                        "fail",
                        error or f"Execution{status.title().replace('_', '')}",
                    )
                )
    return actions


def plan_catalog(ctx: OpsContext, dates: list[str]) -> list[CatalogAction]:
    """Dates with completed manifests but no partition in the Glue catalog (a registration that failed or was
    not wired yet). Dates with an unfinished replay are left alone: the replay owns their partition. An Iceberg
    stack has nothing to register: the job's commit is what makes a batch visible, and a Hive table of the same
    name would hide the Iceberg table from Athena."""
    database, table = ctx.stack.glue_database, ctx.stack.glue_table
    if not database or not ctx.stack.output_path or table_format(ctx) == "iceberg":
        return []
    glue = ctx.client("glue")
    actions: list[CatalogAction] = []
    for date_prefix in dates:
        items = read_date(ctx.ddb, ctx.table_name, date_prefix)
        if any(r.get("status") != "completed" for r in items.replays):
            continue
        done = sorted(
            str(m["manifest_id"])
            for m in items.manifests
            if m.get("status") == ManifestStatus.COMPLETED and not m.get("superseded_by")
        )
        if done and get_partition_location(glue, database, table, date_prefix) is None:
            actions.append(CatalogAction(date_prefix, "register partition", done))
    return actions


def _register(ctx: OpsContext, date_prefix: str, report: dict[str, Any]) -> None:
    """The catalog registration the lost status update would have triggered (idempotent)."""
    if (
        ctx.stack.glue_database
        and ctx.stack.output_path
        and report.get("schema")
        and table_format(ctx) != "iceberg"
    ):
        register_manifest_output(
            ctx.client("glue"),
            ctx.stack.glue_database,
            ctx.stack.glue_table,
            ctx.stack.output_path,
            date_prefix,
            report,
        )


def reconcile(
    ctx: OpsContext,
    dates: list[str],
    *,
    only_date: str | None = None,
    dry_run: bool = False,
    grace_seconds: int | None = None,
) -> ReconcileResult:
    config = ctx.config()
    if grace_seconds is not None:
        config = dataclasses.replace(config, repair_grace_seconds=grace_seconds)
    if only_date:
        table: TrackingTable = ctx.tracking(config, DateScopedTable, only_date=only_date)
    else:
        table = ctx.tracking(config)
    result = ReconcileResult(dry_run=dry_run)
    result.claims = plan_claims(ctx, table, config.repair_grace_seconds)
    result.manifests = plan_manifests(ctx, dates)
    result.catalog = plan_catalog(ctx, dates)
    if dry_run:
        return result

    service = ctx.control_plane(config, table)
    repaired: set[str] = set()
    while True:  # repair() handles a page of claims per call, as the flush does
        outcome = service.repair()
        done = set(outcome.repaired_recorded) | set(outcome.repaired_rolled_back)
        if not done - repaired:
            break
        repaired |= done
    missing = {c.manifest_id for c in result.claims} - repaired
    result.problems += [
        f"claim {m} was not repaired (still inside the grace period?)" for m in sorted(missing)
    ]

    for action in result.manifests:
        if action.action == "none":
            result.problems.append(f"manifest {action.manifest_id}: {action.note}")
            continue
        if action.action == "complete":
            report = _report_for(ctx, action.manifest_id)
            if report is None:
                result.problems.append(
                    f"manifest {action.manifest_id}: the job report is missing, so it cannot be marked completed; "
                    "retry it with `pipeline retry`"
                )
                continue
            request = CompleteRequest(
                action.manifest_id, action.date_prefix, ManifestStatus.COMPLETED, None, None, report
            )
            service.complete(request)
            _register(ctx, action.date_prefix, report)
            continue
        cause = f"reconciled: the execution ended {action.execution_status}"
        service.complete(
            CompleteRequest(
                action.manifest_id, action.date_prefix, ManifestStatus.FAILED, action.error, cause, {}
            )
        )

    for catalog_action in result.catalog:
        for manifest_id in catalog_action.manifests:
            report = _report_for(ctx, manifest_id)
            if report is None:
                result.problems.append(f"manifest {manifest_id}: no job report to register in the catalog")
                continue
            _register(ctx, catalog_action.date_prefix, report)
    return result
