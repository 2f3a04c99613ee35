"""`pipeline maintain [--date D]`: the Iceberg table's maintenance, run in-process against the stack's catalog.

The same code as the scheduled Glue run of the job in `--MODE maintain` (glue_jobs/ndjson_to_parquet/maintenance.py):
compact each partition's small files in one atomic rewrite commit, expire snapshots older than the retention, remove
orphan files older than the safety window. The table is the stack's: the Glue Data Catalog database and table from
the stack outputs (or flags), located at the output path, reached through the operator session's endpoint and
region (the embedded AWS with `--endpoint-url`). The report also goes to `<output>/_reports/maintenance-<ts>.json`,
as the Glue run's does.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from glue_jobs.ndjson_to_parquet.args import parse_job_args
from glue_jobs.ndjson_to_parquet.errors import JobError
from pipeline.contracts.errors import PipelineError
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import OpsError


class MaintenanceFailed(OpsError):
    error_name = "MaintenanceFailed"


@dataclass(frozen=True)
class MaintainRequest:
    date: str | None = None
    retention_hours: int = 168
    orphan_age_hours: int = 72
    target_file_mb: int = 128
    codec: str = "zstd"


@contextlib.contextmanager
def aws_environment(ctx: OpsContext) -> Iterator[None]:
    """The operator session's endpoint, region and profile as the environment pyiceberg and pyarrow read
    (the job's catalog and storage code takes them from there), restored afterwards."""
    wanted: dict[str, str] = {}
    if ctx.aws.endpoint_url:
        wanted["AWS_ENDPOINT_URL"] = ctx.aws.endpoint_url
    region = ctx.aws.region_name  # StackNameMissing when none is configured
    wanted["AWS_REGION"] = region
    wanted["AWS_DEFAULT_REGION"] = region
    if ctx.aws.profile:
        wanted["AWS_PROFILE"] = ctx.aws.profile
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def job_arguments(ctx: OpsContext, request: MaintainRequest) -> list[str]:
    """The `--MODE maintain` arguments of the stack's table, exactly as the scheduled Glue run gets them."""
    ctx.stack.require("glue_database")
    argv = [
        *("--JOB_NAME", "pipeline-maintain", "--MODE", "maintain", "--TABLE_FORMAT", "iceberg"),
        *("--OUTPUT_PATH", ctx.require_output_path(), "--COMPRESSION_TYPE", request.codec),
        *("--CATALOG_DATABASE", ctx.stack.get("glue_database"), "--CATALOG_TABLE", ctx.stack.glue_table),
        *("--SNAPSHOT_RETENTION_HOURS", str(request.retention_hours)),
        *("--ORPHAN_AGE_HOURS", str(request.orphan_age_hours)),
        *("--TARGET_FILE_MB", str(request.target_file_mb)),
    ]
    if request.date:
        argv += ["--MAINTAIN_DATE", request.date]
    return argv


def maintain(ctx: OpsContext, request: MaintainRequest) -> dict[str, Any]:
    """Run the maintenance of the stack's Iceberg table; the report (per partition: files and bytes before/after,
    orphans removed; snapshots expired; seconds)."""
    from glue_jobs.ndjson_to_parquet.maintenance import run_maintenance

    try:
        with aws_environment(ctx):
            return run_maintenance(parse_job_args(job_arguments(ctx, request)))
    except JobError as exc:
        raise PipelineError(exc.message, error_name=exc.error_name) from exc
    except PipelineError:
        raise
    except Exception as exc:  # pyiceberg's own errors (a commit that failed, a table that is not Iceberg)
        raise MaintenanceFailed(f"the maintenance of the table stopped: {type(exc).__name__}: {exc}") from exc
