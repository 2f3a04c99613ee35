"""The Glue job report (stdlib only, shipped in both zips): where the job writes it and which numbers of it the
control plane keeps.

The job writes one JSON object per run to ``<OUTPUT_PATH>/_reports/<manifest_id>.json`` (docs/glue-job.md lists
every field); the state machine checks that it exists (``aws-sdk:s3:headObject``) and hands its location
(``report_path``, never the report itself: a wide schema makes it larger than Step Functions' 256 KiB state
limit) to the status update, which reads it from S3 and keeps the counts below on the MANIFEST item; ``pipeline reconcile``, ``pipeline status`` and the invariant checker
read the same names.
"""

from __future__ import annotations

from typing import Any

REPORTS_FOLDER = "_reports"
REPORT_COUNTS = ("records_in", "records_out", "bad_records", "bytes_in", "bytes_out")
# What the schema contract did to the batch (the report's "contract" object, summed): columns (and struct fields)
# added to the table, values converted to the table's type, records quarantined because a value could not be.
CONTRACT_COUNTS = ("columns_added", "values_converted", "contract_quarantined")
# What the MANIFEST item holds per manifest: the counts, how many Parquet files the run wrote, the contract's counts.
MANIFEST_COUNTS = (*REPORT_COUNTS, "output_files", *CONTRACT_COUNTS)
# Kept too, not summed: the Iceberg snapshot that made the batch visible (Iceberg format only).
SNAPSHOT_FIELD = "snapshot_id"


def report_key(output_prefix: str, manifest_id: str) -> str:
    """The report's key (or path) under the output location ``output_prefix`` (with or without a trailing /)."""
    base = output_prefix.rstrip("/")
    return f"{base}/{REPORTS_FOLDER}/{manifest_id}.json" if base else f"{REPORTS_FOLDER}/{manifest_id}.json"


def is_report_key(key: str, manifest_id: str) -> bool:
    """True when ``key`` is the report of ``manifest_id`` under some output location (what ``report_key`` makes)."""
    name = f"{REPORTS_FOLDER}/{manifest_id}.json"
    return key == name or key.endswith(f"/{name}")


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    """The numbers of a Glue job report worth keeping on the MANIFEST item."""
    counts: dict[str, int] = {}
    for name in REPORT_COUNTS:
        value = report.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[name] = value
    output_files = report.get("output_files")
    if isinstance(output_files, list):
        counts["output_files"] = len(output_files)
    elif isinstance(output_files, int) and not isinstance(output_files, bool):
        counts["output_files"] = output_files
    contract = report.get("contract")
    if isinstance(contract, dict):
        added, converted = contract.get("columns_added"), contract.get("values_converted")
        quarantined = contract.get("records_quarantined")
        if isinstance(added, list):
            counts["columns_added"] = len(added)
        if isinstance(converted, dict):
            counts["values_converted"] = sum(v for v in converted.values() if _count(v))
        if isinstance(quarantined, int) and _count(quarantined):
            counts["contract_quarantined"] = quarantined
    snapshot = report.get(SNAPSHOT_FIELD)
    if isinstance(snapshot, int) and _count(snapshot):
        counts[SNAPSHOT_FIELD] = snapshot
    return counts


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
