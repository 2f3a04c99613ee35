"""The job report: what one run read, wrote, quarantined and decided, as OUTPUT_PATH/_reports/<manifest_id>.json.

The report is also the job's stdout line and, in embedded mode, the Glue run's result; docs/glue-job.md lists
its fields. It is written atomically (a PUT on S3, a rename locally) so that a reader never sees half of it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pyarrow as pa

from pipeline.contracts.report import REPORTS_FOLDER

from .args import JobArgs
from .constants import TS_TYPE
from .manifest import Manifest
from .schema import Resolution
from .storage import Storage, join


def new_report(args: JobArgs, manifest: Manifest, timings: dict[str, float]) -> dict[str, Any]:
    return {
        "manifest_id": manifest.manifest_id,
        "date_prefix": manifest.date_prefix,
        "job_name": args.job_name,
        "codec": args.compression,
        "timings": timings,
    }


def schema_listing(schema: pa.Schema) -> list[dict[str, str]]:
    """The output columns as written: the batch schema, then the metadata columns."""
    return [{"name": f.name, "type": str(f.type)} for f in schema] + [
        {"name": "_source_file", "type": "string"},
        {"name": "_manifest_id", "type": "string"},
        {"name": "_ingested_at", "type": str(TS_TYPE)},
    ]


def resolution_fields(resolution: Resolution) -> dict[str, Any]:
    return {
        "schema": schema_listing(resolution.schema),
        "type_conflicts": resolution.conflicts,
        "ignored_fields": resolution.ignored_fields,
        "case_variants": resolution.case_variants,
    }


def write_report(storage: Storage, output: str, report: dict[str, Any]) -> None:
    target = join(output, REPORTS_FOLDER, f"{report['manifest_id']}.json")
    body = json.dumps(report, indent=2, default=str).encode("utf-8")
    if target.startswith("s3://"):  # a PUT is atomic on S3
        storage.write_bytes(target, body)
        return
    temporary = join(output, REPORTS_FOLDER, f".{report['manifest_id']}.{uuid.uuid4().hex[:8]}.tmp")
    storage.write_bytes(temporary, body)
    storage.move(temporary, target)
