"""Task planning: which lines each stage-1 task reads, and which pieces each stage-2 task writes.

Stage 1 packs small files into tasks of up to SPLIT_BYTES and splits large plain files into ranges of lines
(fewer, larger tasks; at least 2 per core when the batch allows it); gzip files are read whole and weigh more.
Stage 2 groups the staged pieces so that each task writes about TARGET_FILE_MB of Parquet, estimated from the
compression ratio stage 1 measured. The task values are plain frozen dataclasses: Spark pickles them to the
executors, with the `Storage` (S3 options) they must use.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs

from .constants import GZIP_EXPANSION, MAX_FILES_PER_TASK, SPLIT_BYTES
from .errors import JobError
from .manifest import Entry, Manifest
from .storage import Storage

Observation = tuple[tuple[str | None, ...], pa.DataType, int]  # (field path as names, type, non-null values)


@dataclass(frozen=True)
class FilePart:
    """A whole file, or the lines starting in [start, end) of a large plain file."""

    url: str
    location: str
    start: int
    end: int | None  # None: to the end of the file
    compressed: bool | None  # None: decided by the task from the first bytes
    size: int
    version_id: str | None = None  # the S3 object version to read (storage.pinned); None: the current content


@dataclass(frozen=True)
class ReadTask:
    index: int
    parts: tuple[FilePart, ...]  # small files are packed together, a large plain file is split
    staging: str
    size: int
    storage: Storage = field(default_factory=Storage)
    codec: str = ""
    compression_level: int | None = None  # --COMPRESSION_LEVEL (None: the codec's default), for the estimate


@dataclass(frozen=True)
class Piece:
    """A typed Arrow table staged by stage 1 (one block's records that share a schema)."""

    location: str
    rows: int
    arrow_bytes: int
    observations: tuple[Observation, ...]
    columns: tuple[str, ...]
    url: str  # as in the manifest
    source: str  # normalised location of the input file
    compressed: bool
    block_offset: int
    block_length: int
    task: int
    ratio: float = 0.1  # Parquet bytes per Arrow byte, set from the task's measurement
    version_id: str | None = None  # the input's object version (the quarantine re-reads raw lines from it)


@dataclass(frozen=True)
class WriteTask:
    index: int
    pieces: tuple[Piece, ...]
    schema: pa.Schema
    codec: str
    target_bytes: int
    out_dir: str
    bad_dir: str
    manifest_id: str
    ingested_at: dt.datetime
    storage: Storage = field(default_factory=Storage)
    compression_level: int | None = None  # --COMPRESSION_LEVEL (None: the codec's default)
    contract_columns: frozenset[str] = (
        frozenset()
    )  # top-level columns of the table's contract (schema_contract)
    partition_value: str | None = None  # when set: a `dt` string column with this value in every file
    file_prefix: str = ""  # file names: `<file_prefix>.part-<task>-<n>.parquet` (empty: the manifest id)
    # The files' schema with field ids (Iceberg); None: the schema, the metadata columns (and dt), no ids.
    file_schema: pa.Schema | None = None


def plan_reads(
    manifest: Manifest, staging: str, parallelism: int = 1, storage: Storage | None = None
) -> tuple[list[ReadTask], list[str], int]:
    """Check the entries exist; split large plain files into ranges, pack small files into tasks of up to
    SPLIT_BYTES (fewer, larger tasks), keeping at least 2 tasks per core when the batch allows it."""
    storage = storage if storage is not None else Storage.from_env()
    missing_mandatory: list[str] = []
    skipped: list[str] = []
    parts: list[FilePart] = []
    bytes_in = 0
    infos: dict[str, pafs.FileInfo] = {}
    by_filesystem: dict[bool, list[Entry]] = {}
    for entry in manifest.entries:
        by_filesystem.setdefault(entry.location.startswith("s3://"), []).append(entry)
    for entries in by_filesystem.values():
        entries = [e for e in entries if e.version_id is None]  # a version: its own HEAD (_version_info)
        if not entries:
            continue
        filesystem, _ = storage.fs(entries[0].location)
        try:  # one call per filesystem: pyarrow issues the S3 HEAD requests concurrently
            found = filesystem.get_file_info([storage.fs(e.location)[1] for e in entries])
        except OSError as exc:
            raise JobError("InputFileUnreadable", f"cannot list the manifest's files: {exc}") from exc
        infos.update({e.location: info for e, info in zip(entries, found, strict=True)})
    for entry in manifest.entries:
        info = infos[entry.location] if entry.version_id is None else _version_info(storage, entry)
        if info.type != pafs.FileType.File:
            if entry.mandatory:
                missing_mandatory.append(entry.url)
            else:
                skipped.append(entry.url)
            continue
        size = info.size or 0
        bytes_in += size
        version = entry.version_id
        if entry.location.endswith(".gz"):
            parts.append(FilePart(entry.url, entry.location, 0, None, True, size * GZIP_EXPANSION, version))
        elif size <= SPLIT_BYTES or storage.pinned(entry.location, version).has_gzip_magic(entry.location):
            parts.append(FilePart(entry.url, entry.location, 0, None, None, size, version))
        else:
            count = math.ceil(size / SPLIT_BYTES)
            step = math.ceil(size / count)
            for start in range(0, size, step):
                end = min(size, start + step)
                parts.append(FilePart(entry.url, entry.location, start, end, False, end - start, version))
    if missing_mandatory:
        raise JobError(
            "ManifestEntryMissing",
            f"mandatory file(s) not found: {', '.join(missing_mandatory)}; restore them or mark the "
            'entries "mandatory": false, then re-run the manifest',
        )
    total = sum(part.size for part in parts)
    pack_bytes = max(1, min(SPLIT_BYTES, total // max(1, 2 * parallelism)))
    tasks: list[ReadTask] = []
    current: list[FilePart] = []
    for part in parts:
        if current and (
            sum(p.size for p in current) + part.size > pack_bytes or len(current) >= MAX_FILES_PER_TASK
        ):
            tasks.append(ReadTask(len(tasks), tuple(current), staging, sum(p.size for p in current), storage))
            current = []
        current.append(part)
    if current:
        tasks.append(ReadTask(len(tasks), tuple(current), staging, sum(p.size for p in current), storage))
    return tasks, skipped, bytes_in


def _version_info(storage: Storage, entry: Entry) -> pafs.FileInfo:
    """A versioned entry as a FileInfo: a File of that version's size, or NotFound when the version is gone."""
    assert entry.version_id is not None
    try:
        size = storage.version_size(entry.location, entry.version_id)
    except OSError as exc:
        raise JobError("InputFileUnreadable", f"cannot list the manifest's files: {exc}") from exc
    if size is None:
        return pafs.FileInfo(entry.location, pafs.FileType.NotFound)
    return pafs.FileInfo(entry.location, pafs.FileType.File, size=size)


def group_pieces(pieces: list[Piece], target_bytes: int) -> list[list[Piece]]:
    if not pieces:
        return []
    estimates = [piece.arrow_bytes * piece.ratio for piece in pieces]
    total = sum(estimates)
    count = max(1, math.ceil(total / target_bytes))
    share = total / count
    groups: list[list[Piece]] = [[]]
    filled = 0.0
    for piece, estimate in zip(pieces, estimates, strict=True):
        if groups[-1] and filled + estimate / 2 > share and len(groups) < count:
            groups.append([])
            filled = 0.0
        groups[-1].append(piece)
        filled += estimate
    return groups
