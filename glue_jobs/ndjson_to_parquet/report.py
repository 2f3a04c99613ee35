"""The job report: what one run read, wrote, quarantined and decided, as OUTPUT_PATH/_reports/<manifest_id>.json.

The report is also the job's stdout line and, in embedded mode, the Glue run's result; docs/glue-job.md lists
its fields. It is written atomically (a PUT on S3, a rename locally) so that a reader never sees half of it.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from pipeline.contracts.report import REPORTS_FOLDER

from .args import JobArgs, athena_warning
from .constants import PARTITION_COLUMN, TS_TYPE
from .contract import Evolution
from .manifest import Manifest
from .schema import Resolution
from .storage import Storage, join
from .tasks import WriteResult

CONTRACT_REASON = "schema_contract"  # the reason kind of records whose value the table's contract refuses


def new_report(args: JobArgs, manifest: Manifest, timings: dict[str, float]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "manifest_id": manifest.manifest_id,
        "date_prefix": manifest.date_prefix,
        "job_name": args.job_name,
        "codec": args.compression,
        "compression_level": args.compression_level,
        "timings": timings,
    }
    warning = athena_warning(args.compression, args.catalog_database)
    if warning is not None:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)  # the run's error log on Glue
        report["warnings"] = [warning]
    return report


def schema_listing(schema: pa.Schema, partition_column: bool = False) -> list[dict[str, str]]:
    """The output columns as written: the table's data columns, then the metadata columns (and `dt` when the
    files hold it)."""
    return [
        *({"name": f.name, "type": str(f.type)} for f in schema),
        {"name": "_source_file", "type": "string"},
        {"name": "_manifest_id", "type": "string"},
        {"name": "_ingested_at", "type": str(TS_TYPE)},
        *([{"name": PARTITION_COLUMN, "type": "string"}] if partition_column else []),
    ]


def resolution_fields(
    resolution: Resolution, table_schema: pa.Schema | None = None, partition_value: str | None = None
) -> dict[str, Any]:
    """The batch's schema decisions; `schema` lists the table's columns after this run (the contract evolved
    by the batch) when given, else the batch schema."""
    schema = table_schema if table_schema is not None else resolution.schema
    return {
        "schema": schema_listing(schema, partition_value is not None),
        "type_conflicts": resolution.conflicts,
        "ignored_fields": resolution.ignored_fields,
        "case_variants": resolution.case_variants,
    }


def contract_fields(
    source: str, evolution: Evolution, written: Sequence[WriteResult], bad_reasons: dict[str, int]
) -> dict[str, Any]:
    """What the batch did to and against the table's schema contract."""
    converted: dict[str, int] = {}
    for result in written:
        for name, count in result.converted.items():
            converted[name] = converted.get(name, 0) + count
    return {
        "source": source,
        "columns_added": list(evolution.added),
        "promoted": list(evolution.promoted),
        "values_converted": dict(sorted(converted.items())),
        "records_quarantined": bad_reasons.get(CONTRACT_REASON, 0),
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
