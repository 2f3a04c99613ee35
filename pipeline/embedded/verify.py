"""The end-state check of a run: every input line is in the lake or in the quarantine, every file reached
`completed`, every batch's job report agrees with what the lake and the quarantine hold, and the ingest dead-letter
queue is empty. Whatever disagrees becomes a line of `RunSummary.problems`.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline.contracts.errors import PipelineError
from pipeline.control_plane.domain.failure import job_error_text
from pipeline.control_plane.domain.items import MANIFEST_KEY_PREFIX
from pipeline.control_plane.domain.times import parse_time
from pipeline.embedded.drop import count_lines
from pipeline.embedded.follow import SNAPSHOT_ATTRIBUTES, Expected, scan, take_snapshot
from pipeline.embedded.glue_runner import GlueRunner
from pipeline.embedded.layout import StackOutputs, WorkLayout
from pipeline.embedded.server import harness_client
from pipeline.embedded.summary import ManifestResult, RunSummary, report_table_fields


def verify(
    summary: RunSummary,
    outputs: StackOutputs,
    expected: Expected,
    layout: WorkLayout,
    glue_runner: GlueRunner | None,
) -> None:
    """Fill in the summary's end state and its problems (none when the run is complete)."""
    _, file_status, manifests = take_snapshot(outputs, expected, glue_runner, summary.lines)
    summary.files_completed = sum(1 for key in expected if file_status.get(key) == "completed")
    summary.files_failed = sum(1 for key in expected if file_status.get(key) == "failed")
    runs_by_manifest = {
        r.manifest_id: r for r in (glue_runner.runs if glue_runner else []) if r.status == "SUCCEEDED"
    }
    failed_runs = {
        r.manifest_id: r.error for r in (glue_runner.runs if glue_runner else []) if r.status == "FAILED"
    }
    lake_rows = _lake_rows_by_manifest(layout.lake)
    freshness = batch_freshness(outputs.tracking_table)
    for item in sorted(manifests, key=lambda m: str(m.get("manifest_id"))):
        manifest_id = str(item.get("manifest_id"))
        run = runs_by_manifest.get(manifest_id)
        report = (run.report if run else None) or {}
        result = ManifestResult(
            manifest_id=manifest_id,
            date_prefix=str(item.get("date_prefix")),
            status=str(item.get("status")),
            file_count=int(item.get("file_count") or 0),
            execution_arn=item.get("execution_arn"),
            records_in=_int(item.get("records_in", report.get("records_in"))),
            records_out=_int(item.get("records_out", report.get("records_out"))),
            bad_records=_int(item.get("bad_records", report.get("bad_records"))),
            output_files=_count(item.get("output_files", report.get("output_files"))),
            bytes_out=_int(item.get("bytes_out", report.get("bytes_out"))),
            error=item.get("error"),
            job_error=job_error_text(item.get("cause"))
            or failed_runs.get(manifest_id)
            or item.get("job_error"),
            lake_rows=lake_rows.get(manifest_id, 0),
            quarantine_lines=_quarantine_lines(layout.quarantine, manifest_id),
            freshness_seconds=freshness.get(manifest_id) if item.get("status") == "completed" else None,
            **report_table_fields(report, item),
        )
        summary.manifests.append(result)
        if report.get("codec"):
            summary.codec = str(report["codec"])
        summary.table_format = result.table_format or summary.table_format
    completed = [m for m in summary.manifests if m.status == "completed"]
    if summary.table_format == "parquet":
        reports = [
            runs_by_manifest[m.manifest_id].report or {}
            for m in completed
            if m.manifest_id in runs_by_manifest
        ]
        summary.catalog_skipped_columns = catalog_skipped_columns(reports)
    summary.records_out = sum(m.lake_rows or 0 for m in completed)
    summary.quarantined = sum(m.quarantine_lines or 0 for m in summary.manifests)
    summary.output_files = sum(m.output_files or 0 for m in completed)
    summary.output_bytes = sum(m.bytes_out or 0 for m in completed)
    summary.dlq_messages = dlq_depth(outputs)

    failed = [m for m in summary.manifests if m.status != "completed"]
    if failed:
        _attribute(failed, outputs, expected, layout.quarantine)

    problems = summary.problems
    if summary.files_completed != len(expected):
        not_done = [
            f"s3://{b}/{k} ({file_status.get((b, k), 'not tracked')})"
            for b, k in expected
            if file_status.get((b, k)) != "completed"
        ]
        problems.append(f"{len(not_done)} files did not reach completed: " + ", ".join(not_done[:5]))
    for manifest in summary.manifests:
        if manifest.status != "completed":
            cause = f"{manifest.job_error} ({manifest.error})" if manifest.job_error else manifest.error
            culprits = f"; {manifest.culprits}" if manifest.culprits else ""
            problems.append(f"batch {manifest.manifest_id} ended {manifest.status}: {cause}{culprits}")
            continue
        if not manifest.execution_arn:
            problems.append(f"batch {manifest.manifest_id} has no execution ARN in the tracking table")
        if manifest.records_out is not None and manifest.lake_rows != manifest.records_out:
            problems.append(
                f"batch {manifest.manifest_id}: the job reported {manifest.records_out} records "
                f"but the lake holds {manifest.lake_rows}"
            )
        if manifest.bad_records is not None and manifest.quarantine_lines != manifest.bad_records:
            problems.append(
                f"batch {manifest.manifest_id}: the job reported {manifest.bad_records} bad "
                f"records but the quarantine holds {manifest.quarantine_lines}"
            )
    accounted = summary.records_out + summary.quarantined
    if accounted != summary.lines:
        problems.append(
            f"{summary.lines} input lines but {summary.records_out} in the lake + "
            f"{summary.quarantined} in quarantine = {accounted}"
        )
    if summary.expected_bad_lines is not None and summary.quarantined != summary.expected_bad_lines:
        problems.append(
            f"{summary.expected_bad_lines} corrupt lines were generated but the quarantine "
            f"holds {summary.quarantined}"
        )
    if summary.dlq_messages:
        problems.append(f"{summary.dlq_messages} messages ended in the ingest dead-letter queue")


def batch_freshness(table: str) -> dict[str, float]:
    """Per finished batch: seconds from the earliest `created_at` of its files (when they were tracked: landed) to
    its MANIFEST item's `completed_at`, from one scan of the tracking table."""
    landed: dict[str, str] = {}
    finished: dict[str, str] = {}
    for item in scan(table, ("file_key", "manifest_id", "created_at", "completed_at")):
        manifest_id, created = item.get("manifest_id"), item.get("created_at")
        if not manifest_id:
            continue
        if str(item.get("file_key", "")).startswith(MANIFEST_KEY_PREFIX):
            if item.get("completed_at"):
                finished[str(manifest_id)] = str(item["completed_at"])
        elif created and (str(manifest_id) not in landed or str(created) < landed[str(manifest_id)]):
            landed[str(manifest_id)] = str(created)
    seconds: dict[str, float] = {}
    for manifest_id, completed in finished.items():
        start, end = parse_time(landed.get(manifest_id)), parse_time(completed)
        if start is not None and end is not None:
            seconds[manifest_id] = round(max(0.0, (end - start).total_seconds()), 1)
    return seconds


def catalog_skipped_columns(reports: list[dict[str, Any]]) -> list[str]:
    """The fields the catalog registration of these job reports leaves out, once each: the registration's own
    mapping (`map_schema`), applied to each report's schema as the status update does."""
    from pipeline.control_plane.domain.catalog_schema import map_schema

    skipped: dict[str, None] = {}
    for report in reports:
        if "schema" not in report:
            continue
        try:
            mapped = map_schema(report["schema"])
        except PipelineError:
            continue
        skipped.update(dict.fromkeys(mapped.skipped))
    return list(skipped)


def _attribute(
    failed: list[ManifestResult], outputs: StackOutputs, expected: Expected, quarantine: Path
) -> None:
    """Name each failed batch's files (the user's paths where known) and count its quarantined lines per file."""
    by_id = {m.manifest_id: m for m in failed}

    def shown(bucket: str, key: str) -> str:
        drop = expected.get((bucket, key))
        return str(drop.path) if drop is not None else f"s3://{bucket}/{key}"

    for item in scan(outputs.tracking_table, SNAPSHOT_ATTRIBUTES):
        manifest = by_id.get(str(item.get("manifest_id")))
        if manifest is not None and "bucket" in item and "key" in item:
            manifest.files.append(shown(str(item["bucket"]), str(item["key"])))
    for manifest in failed:
        manifest.files.sort()
        counts = _quarantined_by_source(quarantine, manifest.manifest_id)
        named: dict[str, int] = {}
        for url, count in counts.items():
            bucket, _, key = url.removeprefix("s3://").partition("/")
            name = shown(bucket, key) if url.startswith("s3://") else url
            named[name] = named.get(name, 0) + count
        manifest.bad_lines_by_file = sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))


def _quarantined_by_source(quarantine: Path, manifest_id: str) -> Counter[str]:
    """Quarantined lines of one batch per `source_file` (the job's quarantine records)."""
    counts: Counter[str] = Counter()
    folder_name = f"manifest_id={manifest_id}"
    if not quarantine.is_dir():
        return counts
    for path in quarantine.rglob("*"):
        if not path.is_file() or path.name.startswith((".", "_")) or folder_name not in path.parts:
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.splitlines():
            try:
                source = json.loads(line).get("source_file")
            except (ValueError, AttributeError):
                continue
            if isinstance(source, str):
                counts[source] += 1
    return counts


def dlq_depth(outputs: StackOutputs) -> int:
    url = outputs.dlq_url
    if not url:
        return 0
    sqs = harness_client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _count(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    return _int(value)


def _lake_rows_by_manifest(lake: Path) -> dict[str, int]:
    from pipeline.embedded.query import committed_rows_by_manifest, lake_files, lake_format

    if lake_format(lake) == "iceberg":  # the committed snapshot's rows, not every file of the data folder
        return committed_rows_by_manifest(lake)

    files = lake_files(lake)
    if not files:
        return {}
    import duckdb

    con = duckdb.connect()
    file_list = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    rows = con.execute(
        f"SELECT _manifest_id, count(*) FROM read_parquet([{file_list}], "  # noqa: S608
        "union_by_name = true) GROUP BY 1"
    ).fetchall()
    con.close()
    return {str(manifest_id): int(count) for manifest_id, count in rows}


def _quarantine_lines(quarantine: Path, manifest_id: str) -> int:
    total = 0
    if not quarantine.is_dir():
        return 0
    for path in quarantine.rglob("*"):
        if not path.is_file() or path.name.startswith((".", "_")):
            continue
        if f"manifest_id={manifest_id}" not in path.as_posix():
            continue
        total += count_lines(path)
    return total
