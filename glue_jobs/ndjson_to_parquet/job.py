"""The driver: one manifest converted, in small steps (check, plan, parse, resolve, write, publish, report).

`preflight` and `run_job` share `check_inputs`: `main` runs preflight before starting a JVM so that a bad codec,
manifest, schema or a missing mandatory file is reported in a fraction of a second, and run_job runs the same
checks again (it is also called directly: tests, the embedded Glue runner). Nothing is published where readers
look until every task has succeeded and the bad-record ratio is within bounds.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import pyarrow as pa

from .accounting import check_line_accounting, merge_counts
from .args import JobArgs, check_codec
from .constants import LINE
from .contract import Evolution, evolve
from .errors import JobError
from .manifest import Manifest, load_manifest
from .metrics import emit_metrics
from .parquet import StagedFile
from .plan import Piece, ReadTask, WriteTask, group_pieces, plan_reads
from .publish import cleanup_empty_staging, is_quarantine_file, publish_replacing
from .report import contract_fields, new_report, resolution_fields, write_report
from .schema import Resolution, load_schema, resolve_schema
from .storage import Storage, join, normalise
from .tables import Contract, TableTarget, target_for
from .tasks import Guarded, ReadResult, TaskFailure, WriteResult, read_task, with_ratio, write_task

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Inputs:
    manifest: Manifest
    schema: pa.Schema | None  # the explicit --SCHEMA_PATH schema, if any


def check_inputs(args: JobArgs, storage: Storage) -> Inputs:
    """The checks that need no Spark and no planning: codec, manifest, manifest id, explicit schema."""
    check_codec(args.compression)
    manifest = load_manifest(args.manifest_path, storage)
    if args.manifest_id and args.manifest_id != manifest.manifest_id:
        raise JobError(
            "ManifestIdMismatch",
            f"--MANIFEST_ID {args.manifest_id} does not match manifest_id "
            f"{manifest.manifest_id} in {args.manifest_path}",
        )
    schema = load_schema(args.schema_path, storage) if args.schema_path else None
    return Inputs(manifest, schema)


def preflight(args: JobArgs) -> Manifest:
    """The checks that need no Spark: those of `check_inputs`, then the mandatory entries are present."""
    storage = Storage.from_env()
    inputs = check_inputs(args, storage)
    plan_reads(inputs.manifest, "", storage=storage)
    return inputs.manifest


@dataclass(frozen=True)
class RunLayout:
    """Where one run writes: staging (removed at the end), the partition, the quarantine."""

    output: str
    staging: str
    partition_dir: str
    bad_dir: str
    run_id: str  # `<UTC time>-<8 hex>`: names this run's staging folder (and its Iceberg data files)

    @classmethod
    def of(cls, args: JobArgs, manifest: Manifest, ingested_at: dt.datetime) -> RunLayout:
        output = normalise(args.output_path)
        bad_root = normalise(args.bad_records_path)
        run_id = f"{ingested_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        return cls(
            output=output,
            staging=join(output, "_staging", manifest.manifest_id, run_id),
            partition_dir=join(output, f"dt={manifest.date_prefix}"),
            bad_dir=join(bad_root, f"dt={manifest.date_prefix}", f"manifest_id={manifest.manifest_id}"),
            run_id=run_id,
        )


@dataclass
class Totals:
    """Counts over both stages: what the ratio check and the report need."""

    records_in: int = 0
    bad: int = 0
    blank: int = 0
    bad_reasons: dict[str, int] = field(default_factory=dict)
    bad_staged: list[str] = field(default_factory=list)

    def add(self, bad: int, reasons: dict[str, int], location: str | None) -> None:
        self.bad += bad
        for kind, count in reasons.items():
            self.bad_reasons[kind] = self.bad_reasons.get(kind, 0) + count
        if location:
            self.bad_staged.append(location)

    def within(self, max_ratio: float) -> bool:
        return self.bad <= max_ratio * self.records_in


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.started = self.mark = time.monotonic()
        self.timings = timings

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = round(now - self.mark, 3)
        self.mark = now

    def cpu(self, stage: str, results: Sequence[ReadResult | WriteResult]) -> None:
        """The stage's task CPU and the task bodies' wall (their sum: more than the CPU = waits inside)."""
        self.timings[f"{stage}_task_cpu"] = round(sum(r.cpu_seconds for r in results), 3)
        self.timings[f"{stage}_task_wall"] = round(sum(r.wall_seconds for r in results), 3)

    def seconds(self) -> float:
        return round(time.monotonic() - self.started, 3)


def run_job(spark: Any, args: JobArgs) -> dict[str, Any]:
    """Convert one manifest. Returns the job report (also written to OUTPUT_PATH/_reports/<id>.json)."""
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    ingested_at = dt.datetime.now(dt.UTC)
    storage = Storage.from_env()
    inputs = check_inputs(args, storage)
    report = new_report(args, inputs.manifest, timings)
    target = target_for(args, storage)
    report["table_format"] = target.table_format
    earlier = target.already_committed(inputs.manifest.manifest_id)
    if earlier is not None:  # made visible by an earlier run: nothing is written
        report.update(
            {**earlier, "status": "succeeded", "commit": "already_committed", "seconds": clock.seconds()}
        )
        return report
    layout = RunLayout.of(args, inputs.manifest, ingested_at)
    try:
        return _convert(spark, args, inputs, layout, storage, target, ingested_at, clock, report)
    finally:
        storage.delete_dir(layout.staging)
        cleanup_empty_staging(layout.output, inputs.manifest.manifest_id)


def _convert(
    spark: Any,
    args: JobArgs,
    inputs: Inputs,
    layout: RunLayout,
    storage: Storage,
    target: TableTarget,
    ingested_at: dt.datetime,
    clock: _Clock,
    report: dict[str, Any],
) -> dict[str, Any]:
    manifest = inputs.manifest
    contract = target.contract()
    tasks, skipped, bytes_in = plan_reads(
        manifest, layout.staging, spark.sparkContext.defaultParallelism, storage
    )
    tasks = [
        replace(task, codec=args.compression, compression_level=args.compression_level) for task in tasks
    ]
    clock.lap("plan")
    read_results = _parse(spark, tasks, manifest.manifest_id)
    clock.cpu("parse", read_results)
    clock.lap("parse")
    totals = Totals(records_in=sum(r.records for r in read_results), blank=sum(r.blank for r in read_results))
    for result in read_results:
        totals.add(result.bad, result.bad_reasons, result.bad_location)
    check_line_accounting(merge_counts(*(r.counts.items() for r in read_results)))  # rows: staged
    pieces = [piece for result in read_results for piece in result.pieces]
    resolution = _resolve(pieces, inputs.schema)
    contract, evolution = _evolve(contract, resolution, inputs.schema, args, target.promotes_types)
    write_results: list[WriteResult] = []
    staged_files: list[StagedFile] = []
    try:
        if totals.within(args.max_bad_record_ratio):
            write_results = _write(
                spark, args, manifest, layout, storage, target, ingested_at, pieces, evolution, clock
            )
            staged_files = [f for r in write_results for f in r.files]
            read_counts = (((url, replace(c, rows=0)) for url, c in r.counts.items()) for r in read_results)
            check_line_accounting(merge_counts(*read_counts, *(w.counts.items() for w in write_results)))
        for written in write_results:
            totals.add(written.bad, written.bad_reasons, written.bad_location)
        ratio_ok = totals.within(args.max_bad_record_ratio)
        report.update(
            {
                "files": len({part.url for t in tasks for part in t.parts}),
                "files_skipped": skipped,
                "duplicate_entries": [{"url": url, "count": n} for url, n in manifest.duplicate_entries],
                "records_in": totals.records_in,
                "records_out": sum(r.rows for r in write_results) if ratio_ok else 0,
                "bad_records": totals.bad,
                "bad_records_by_reason": totals.bad_reasons,
                "blank_lines": totals.blank,
                "bytes_in": bytes_in,
                **resolution_fields(resolution, evolution.schema, target.partition_value(manifest)),
                "contract": contract_fields(contract.source, evolution, write_results, totals.bad_reasons),
                "bad_records_path": layout.bad_dir if totals.bad else None,
            }
        )
        # Publish: quarantine first (also when the ratio is exceeded), then the table's files.
        publish_replacing(storage, totals.bad_staged, layout.bad_dir, is_quarantine_file)
        if not ratio_ok:
            _fail_over_ratio(args, manifest, layout, storage, totals, clock, report)
        report.update(target.publish(staged_files, evolution, manifest, layout.run_id))
    except BaseException:
        target.discard(staged_files)
        raise
    report.update(
        {
            "status": "succeeded",
            "bytes_out": sum(f.bytes for f in staged_files),
            "seconds": clock.seconds(),
        }
    )
    write_report(storage, layout.output, report)
    emit_metrics(args, report)
    return report


def _evolve(
    contract: Contract, resolution: Resolution, explicit: pa.Schema | None, args: JobArgs, promotions: bool
) -> tuple[Contract, Evolution]:
    """The contract evolved by the batch; with no contract yet, an explicit --SCHEMA_PATH schema is it."""
    if contract.schema is None and explicit is not None:
        seeded = evolve(explicit, resolution.schema, promotions)
        return Contract(explicit, f"schema_path:{args.schema_path}"), replace(
            seeded, added=[*explicit.names, *seeded.added]
        )
    return contract, evolve(contract.schema, resolution.schema, promotions)


def _parse(spark: Any, tasks: list[ReadTask], manifest_id: str) -> list[ReadResult]:
    results = run_tasks(
        spark,
        Guarded(read_task),
        sorted(tasks, key=lambda t: -t.size),  # largest first
        f"ndjson_to_parquet {manifest_id}: parse",
    )
    return [with_ratio(result) for result in sorted(results, key=lambda r: r.task)]


def _resolve(pieces: list[Piece], explicit: pa.Schema | None) -> Resolution:
    observations = [obs for piece in pieces for obs in piece.observations]
    # In order of first appearance; a dict, not a list membership test per name (quadratic for wide records).
    top_level = list(dict.fromkeys(c for piece in pieces for c in piece.columns if c != LINE))
    # Reserved names (dt, the metadata columns, any case) are quarantined record by record (conform).
    return resolve_schema(observations, top_level, explicit)


def _write(
    spark: Any,
    args: JobArgs,
    manifest: Manifest,
    layout: RunLayout,
    storage: Storage,
    target: TableTarget,
    ingested_at: dt.datetime,
    pieces: list[Piece],
    evolution: Evolution,
    clock: _Clock,
) -> list[WriteResult]:
    target_bytes = args.target_file_mb * 1024 * 1024
    out_dir = target.write_dir(layout.staging, manifest)
    prefix = target.file_prefix(manifest.manifest_id, layout.run_id)
    partition_value = target.partition_value(manifest)
    file_schema = target.file_schema(evolution)  # Iceberg: with the table's field ids
    write_tasks = [
        WriteTask(
            index,
            tuple(group),
            evolution.schema,
            args.compression,
            target_bytes,
            out_dir,
            join(layout.staging, "bad"),
            manifest.manifest_id,
            ingested_at,
            storage,
            compression_level=args.compression_level,
            contract_columns=evolution.contract_columns,
            partition_value=partition_value,
            file_prefix=prefix,
            file_schema=file_schema,
        )
        for index, group in enumerate(group_pieces(pieces, target_bytes))
    ]
    clock.lap("resolve")
    results = run_tasks(
        spark, Guarded(write_task), write_tasks, f"ndjson_to_parquet {manifest.manifest_id}: write"
    )
    clock.lap("write")
    clock.cpu("write", results)
    return results


def _fail_over_ratio(
    args: JobArgs,
    manifest: Manifest,
    layout: RunLayout,
    storage: Storage,
    totals: Totals,
    clock: _Clock,
    report: dict[str, Any],
) -> None:
    report.update(
        {
            "status": "failed",
            "error": "BadRecordRatioExceeded",
            "output_files": [],
            "records_not_published": totals.records_in - totals.bad,
            "bytes_out": 0,
            "seconds": clock.seconds(),
        }
    )
    write_report(storage, layout.output, report)
    emit_metrics(args, report)  # the bad-record ratio alarm needs the runs that failed on it most
    bad, records_in = totals.bad, totals.records_in
    raise JobError(
        "BadRecordRatioExceeded",
        f"{bad} of {records_in} records are bad ({bad / max(records_in, 1):.2%}), "
        f"above --MAX_BAD_RECORD_RATIO {args.max_bad_record_ratio}; nothing was published for "
        f"manifest {manifest.manifest_id}; the bad lines are in {layout.bad_dir}",
        {"records_in": records_in, "bad_records": bad},
    )


def run_tasks(
    spark: Any, function: Callable[[T], R | TaskFailure], tasks: list[T], description: str
) -> list[R]:
    """Run one Spark task per item; the first task failure is raised as its JobError."""
    if not tasks:
        return []
    context = spark.sparkContext
    context.setJobDescription(description)
    try:
        results = context.parallelize(tasks, len(tasks)).map(function).collect()
    finally:
        context.setJobDescription(None)
    for result in results:
        if isinstance(result, TaskFailure):
            raise JobError(result.error_name, result.message)
    return results
