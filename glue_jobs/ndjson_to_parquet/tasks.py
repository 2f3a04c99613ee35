"""The bodies of the Spark tasks: stage 1 (parse + stage typed pieces) and stage 2 (conform + write Parquet).

They run on the executors: Spark pickles `Guarded(read_task)` / `Guarded(write_task)` by reference to this module
(the package is on every executor's path: --extra-py-files on Glue, PYTHONPATH in local mode), and the task
values carry everything else, the S3 options included. A task never raises: it returns its typed result or a
`TaskFailure`, so that the driver raises the JobError's stable name rather than Spark's wrapped traceback.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar, cast

import pyarrow as pa

from .accounting import FileCount
from .conform import Conformed, conform_to_contract
from .constants import LINE, PARTITION_COLUMN, TS_TYPE
from .errors import JobError
from .parquet import RollingParquetWriter, StagedFile, estimate_ratio, row_group_rows
from .parse import iter_blocks, parse_block, strip_block_bom
from .plan import FilePart, Piece, ReadTask, WriteTask
from .quarantine import BadRecords, bad_record, reread_records
from .schema import observe_table
from .storage import join

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ReadResult:
    task: int
    pieces: list[Piece]
    records: int  # non-blank lines
    blank: int
    bad: int
    bad_reasons: dict[str, int]
    bad_location: str | None
    ratio: float | None  # Parquet bytes per Arrow byte measured on the task's first piece
    counts: dict[str, FileCount] = field(default_factory=dict)  # by url: lines, staged rows, bad, blank
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0  # the task body's own wall time (cpu_seconds plus its waits: I/O, page cache)


@dataclass
class WriteResult:
    task: int
    files: list[StagedFile]
    rows: int
    bad: int
    bad_reasons: dict[str, int]
    bad_location: str | None
    counts: dict[str, FileCount] = field(default_factory=dict)  # by url: rows written, records quarantined
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    converted: dict[str, int] = field(default_factory=dict)  # top-level column -> values converted


@dataclass(frozen=True)
class TaskFailure:
    error_name: str
    message: str


@dataclass(frozen=True)
class Guarded(Generic[T, R]):
    """Run a task body, turning exceptions into values so the driver can raise a named JobError."""

    function: Callable[[T], R]

    def __call__(self, task: T) -> R | TaskFailure:
        cpu, wall = time.process_time(), time.monotonic()
        try:
            result = self.function(task)
            result.cpu_seconds = time.process_time() - cpu  # type: ignore[attr-defined]
            result.wall_seconds = time.monotonic() - wall  # type: ignore[attr-defined]
            return result
        except JobError as exc:
            return TaskFailure(exc.error_name, exc.message)
        except Exception as exc:
            return TaskFailure("TaskFailed", f"{type(exc).__name__}: {exc}")


@dataclass
class _ReadState:
    pieces: list[Piece] = field(default_factory=list)
    bad: BadRecords = field(default_factory=BadRecords)
    records: int = 0
    blank: int = 0
    ratio: float | None = None
    counts: dict[str, FileCount] = field(default_factory=dict)


def read_task(task: ReadTask) -> ReadResult:
    """Stage 1 body: parse the task's lines, stage typed pieces (Arrow IPC) and quarantined lines (NDJSON)."""
    state = _ReadState()
    for part_number, part in enumerate(task.parts):
        try:
            _read_part(task, part_number, part, state)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise JobError(
                "InputFileUnreadable",
                f"cannot read {part.url}: {type(exc).__name__}: {exc}; fix "
                "or remove the file and re-run the manifest",
            ) from exc
    bad_location = state.bad.write(
        task.storage, join(task.staging, "bad", f"bad-records.read-{task.index:05d}.ndjson")
    )
    return ReadResult(
        task.index,
        state.pieces,
        state.records,
        state.blank,
        len(state.bad.lines),
        state.bad.reasons,
        bad_location,
        state.ratio,
        state.counts,
    )


def _read_part(task: ReadTask, part_number: int, part: FilePart, state: _ReadState) -> None:
    storage = task.storage.pinned(part.location, part.version_id)  # that object version, if the entry has one
    compressed = part.compressed
    if compressed is None:
        compressed = part.location.endswith(".gz") or storage.has_gzip_magic(part.location)
    blocks = iter_blocks(part.location, compressed, part.start, part.end, storage=storage)
    counts = state.counts.setdefault(part.url, FileCount())
    for block_number, (raw_offset, raw_block) in enumerate(blocks):
        offset, block = strip_block_bom(raw_offset, raw_block)
        result = parse_block(part.url, offset, block)
        state.records += result.records
        state.blank += result.blank
        # The block's lines from parse_block's newline count (one pass); rows + bad + blank must add up to them.
        counts.add(
            FileCount(result.lines, sum(t.num_rows for t in result.tables), len(result.bad), result.blank)
        )
        for record in result.bad:
            state.bad.add(record)
        for piece_number, table in enumerate(result.tables):
            name = f"{task.index:05d}-{part_number:04d}-{block_number:05d}-{piece_number:03d}.arrow"
            location = join(task.staging, "pieces", name)
            observations = tuple(observe_table(table))
            if state.ratio is None:  # ISO strings as the write task converts them: timestamps
                stamps = [
                    str(path[0]) for path, kind, _ in observations if len(path) == 1 and kind == TS_TYPE
                ]
                state.ratio = estimate_ratio(
                    table.drop_columns([LINE]), task.codec, task.compression_level, stamps
                )
            try:
                task.storage.write_ipc(location, table)
            except OSError as exc:  # staging (disk full, S3 refusing the PUT): not the input's fault
                raise JobError(
                    "TaskFailed",
                    f"cannot write the staged piece {location}: {type(exc).__name__}: {exc}",
                ) from exc
            state.pieces.append(
                Piece(
                    location=location,
                    rows=table.num_rows,
                    arrow_bytes=table.nbytes,
                    observations=observations,
                    columns=tuple(table.column_names),
                    url=part.url,
                    source=part.location,
                    compressed=compressed,
                    block_offset=offset,
                    block_length=len(block),
                    task=task.index,
                    version_id=part.version_id,
                )
            )


def with_ratio(result: ReadResult) -> ReadResult:
    """The result with its pieces carrying the task's measured ratio (0.1 when nothing was measured)."""
    return replace(result, pieces=[replace(piece, ratio=result.ratio or 0.1) for piece in result.pieces])


def write_task(task: WriteTask) -> WriteResult:
    """Stage 2 body: conform the pieces to the target schema (the table's contract evolved by the batch) and
    write Parquet files of about target_bytes."""
    out_schema = pa.schema(
        [
            *task.schema,
            pa.field("_source_file", pa.string()),
            pa.field("_manifest_id", pa.string()),
            pa.field("_ingested_at", TS_TYPE),
            *([pa.field(PARTITION_COLUMN, pa.string())] if task.partition_value is not None else []),
        ]
    )
    if task.file_schema is not None:  # the same columns, carrying the table's field ids
        if not task.file_schema.equals(out_schema, check_metadata=False):
            raise JobError(
                "FileSchemaMismatch",
                f"the table's file schema {task.file_schema} differs from the run's {out_schema}",
            )
        out_schema = task.file_schema
    estimated = sum(p.arrow_bytes * p.ratio for p in task.pieces)
    writer = RollingParquetWriter(
        task.storage,
        task.out_dir,
        f"{task.file_prefix or task.manifest_id}.part-{task.index:05d}",
        out_schema,
        task.codec,
        task.target_bytes,
        row_group_rows(
            sum(p.rows for p in task.pieces),
            estimated,
            task.target_bytes,
            sum(p.arrow_bytes for p in task.pieces),
        ),
        task.compression_level,
    )
    bad = BadRecords()
    rows_out = 0
    counts: dict[str, FileCount] = {}
    converted: dict[str, int] = {}
    for piece in task.pieces:
        quarantined = len(bad.lines)
        conformed = _conformed_piece(task, piece, bad, converted)
        count = conformed.num_rows
        counts.setdefault(piece.url, FileCount()).add(
            FileCount(rows=count, quarantined=len(bad.lines) - quarantined)
        )
        if count == 0:
            continue
        conformed = (
            conformed.append_column("_source_file", pa.repeat(pa.scalar(piece.url), count))
            .append_column("_manifest_id", pa.repeat(pa.scalar(task.manifest_id), count))
            .append_column("_ingested_at", pa.repeat(pa.scalar(task.ingested_at, TS_TYPE), count))
        )
        if task.partition_value is not None:
            conformed = conformed.append_column(
                PARTITION_COLUMN, pa.repeat(pa.scalar(task.partition_value, pa.string()), count)
            )
        writer.add(conformed)
        rows_out += count
    staged = writer.finish()
    bad_location = bad.write(task.storage, join(task.bad_dir, f"bad-records.convert-{task.index:05d}.ndjson"))
    return WriteResult(
        task.index, staged, rows_out, len(bad.lines), bad.reasons, bad_location, counts, converted=converted
    )


def _conform(table: pa.Table, task: WriteTask) -> Conformed:
    if len(task.schema) == 0:  # a batch of only `{}` lines: keep the rows
        return Conformed(table.select([]), {})
    return conform_to_contract(table, task.schema, task.contract_columns)


def _conformed_piece(task: WriteTask, piece: Piece, bad: BadRecords, converted: dict[str, int]) -> pa.Table:
    """The piece in the target schema, without the records that cannot be converted (quarantined in `bad`)."""
    table = task.storage.read_ipc(piece.location)
    lines = table.column(LINE)
    result = _conform(table.drop_columns([LINE]), task)
    conformed, bad_rows = result.table, result.bad
    for name, count in result.converted.items():
        converted[name] = converted.get(name, 0) + count
    if not bad_rows:
        return conformed
    ordinals = cast(list[int], lines.to_pylist())  # LINE is never null
    raw = reread_records(
        task.storage.pinned(piece.source, piece.version_id),
        piece.source,
        piece.compressed,
        piece.block_offset,
        piece.block_length,
        [ordinals[row] for row in bad_rows],
    )
    for row, reason in sorted(bad_rows.items()):
        line_offset, line = raw[ordinals[row]]
        bad.add(bad_record(piece.url, line_offset, line, reason))  # kind: type_conflict, case_collision...
    keep = pa.array([row not in bad_rows for row in range(conformed.num_rows)])
    return conformed.filter(keep)
