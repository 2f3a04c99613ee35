"""The stack's output table for the operator commands: its format, and the Iceberg table itself.

The table's conventions (location, catalog, schema mapping, snapshot summaries) are owned by the job's Iceberg
adapter (`glue_jobs/ndjson_to_parquet/iceberg.py`); this module only points it at the stack: the Glue database
and table and the output location from the stack outputs, the endpoint, region and credentials of the operator's
AWS session (the embedded AWS or a real account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess, TableRef, load_table, open_catalog
from pipeline.ops.aws import AwsSession
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import TableFormatUnsupported, TableNotFound

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table


def catalog_access(aws: AwsSession) -> CatalogAccess:
    """The session's endpoint, region and (frozen) credentials, for pyiceberg's Glue client and FileIO."""
    credentials = aws.session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    return CatalogAccess(
        glue_endpoint=aws.endpoint_url,
        s3_endpoint=aws.endpoint_url,
        region=aws.region_name,
        access_key=frozen.access_key if frozen else None,
        secret_key=frozen.secret_key if frozen else None,
        session_token=frozen.token if frozen else None,
    )


def table_format(ctx: OpsContext) -> str:
    """ "iceberg" or "parquet": the stack output `table_format`, else the Glue job's --TABLE_FORMAT, else parquet
    (stacks deployed before the Iceberg format)."""
    if ctx.stack.table_format:
        return ctx.stack.table_format
    if ctx.stack.glue_job_name:
        try:
            job = ctx.client("glue").get_job(JobName=ctx.stack.glue_job_name)["Job"]
        except ClientError:
            return "parquet"
        value = str(job.get("DefaultArguments", {}).get("--TABLE_FORMAT", "parquet")).lower()
        return value if value in ("iceberg", "parquet") else "parquet"
    return "parquet"


def table_ref(ctx: OpsContext) -> TableRef:
    ctx.stack.require("glue_database", "output_path")
    return TableRef(str(ctx.stack.glue_database), ctx.stack.glue_table, ctx.require_output_path().rstrip("/"))


def stack_catalog(ctx: OpsContext) -> Catalog:
    return open_catalog(table_ref(ctx), catalog_access(ctx.aws))


def open_stack_table(ctx: OpsContext, command: str) -> Table:
    """The stack's Iceberg table; TableFormatUnsupported for a Parquet stack, TableNotFound before the first
    commit."""
    if table_format(ctx) != "iceberg":
        raise TableFormatUnsupported(
            f"`pipeline {command}` works on the Iceberg table format; this stack writes plain Parquet "
            '(table_format = "parquet").'
        )
    ref = table_ref(ctx)
    table = load_table(stack_catalog(ctx), ref)
    if table is None:
        raise TableNotFound(
            f"The Iceberg table {ref.database}.{ref.name} does not exist yet: the first completed batch "
            "creates it."
        )
    return table
