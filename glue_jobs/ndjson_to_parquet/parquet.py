"""Parquet writing inside the stage-2 tasks: files of about TARGET_FILE_MB, dictionaries only where they pay.

Row groups hold at most ROW_GROUP_ROWS rows, GROUP_ARROW_BYTES of buffered Arrow data and a file's target size; a
file is closed when the next row group would overshoot. Data pages are DATA_PAGE_BYTES. Columns with few distinct values are dictionary-encoded;
near-unique columns compress better PLAIN + codec, as DuckDB writes them (bench/results/parquet_bytes.md).
`writer_options` owns the writer's properties: the write and the plan's estimate (`estimate_ratio`) use the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .args import PYARROW_CODECS
from .constants import (
    CODEC_LEVELS,
    DATA_PAGE_BYTES,
    DICTIONARY_MAX_DISTINCT_RATIO,
    DICTIONARY_MIN_SAMPLE_ROWS,
    DICTIONARY_SAMPLE_ROWS,
    DICTIONARY_SAMPLE_VALUES,
    ESTIMATE_MIN_ROWS,
    FLOAT_ZSTD_LEVEL,
    GROUP_ARROW_BYTES,
    ROW_GROUP_ROWS,
    SAMPLE_COLUMNS,
    SAMPLE_ROWS,
)
from .schema import strings_to_timestamps
from .storage import OUTPUT_BUFFER, Storage, join, make_parent


def _leaves(array: pa.Array, path: str, out: dict[str, pa.Array]) -> None:
    if pa.types.is_struct(array.type):
        for index, child in enumerate(cast(pa.StructArray, array).flatten()):
            _leaves(child, f"{path}.{array.type.field(index).name}", out)
    elif pa.types.is_list(array.type):
        _leaves(cast(pa.ListArray, array).flatten(), f"{path}.list.element", out)
    else:
        out[path] = array


def _dictionary_candidate(kind: pa.DataType, numbers: bool) -> bool:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return True
    return numbers and (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_decimal(kind)
    )


def _leaf_count(data_type: pa.DataType) -> int:
    if pa.types.is_struct(data_type):
        return sum(_leaf_count(child.type) for child in data_type)
    if pa.types.is_list(data_type):
        return _leaf_count(data_type.value_type)
    return 1


def dictionary_sample_rows(schema: pa.Schema) -> int:
    """Rows `dictionary_columns` looks at: DICTIONARY_SAMPLE_ROWS, fewer for wide tables (about
    DICTIONARY_SAMPLE_VALUES leaf values in all, never under DICTIONARY_MIN_SAMPLE_ROWS): a distinct count costs
    per value, and a 2,000-leaf table's 16,384 rows cost more than its Parquet encode."""
    leaves = max(1, sum(_leaf_count(column.type) for column in schema))
    return max(DICTIONARY_MIN_SAMPLE_ROWS, min(DICTIONARY_SAMPLE_ROWS, DICTIONARY_SAMPLE_VALUES // leaves))


def dictionary_columns(table: pa.Table, ratio: float | None = None, numbers: bool = True) -> list[str]:
    """Parquet column paths worth dictionary-encoding: string, number and timestamp columns with few distinct
    values (at most `ratio`, default DICTIONARY_MAX_DISTINCT_RATIO, of their values in the sample), as DuckDB
    chooses; near-unique columns (ids, IPs, event times) compress better PLAIN + codec. Booleans never (RLE is
    smaller); a number or timestamp column without a value in the sample neither (a string one does). `numbers=False` is the earlier strings-only rule (bench/parquet_bytes.py compares both)."""
    return _dictionary_paths(sample_leaves(table), ratio, numbers)


def sample_leaves(table: pa.Table) -> dict[str, pa.Array]:
    """Every leaf column of the table's first `dictionary_sample_rows` rows, by Parquet column path (the keys of
    pyarrow's per-column writer settings)."""
    leaves: dict[str, pa.Array] = {}
    sample = table.slice(0, dictionary_sample_rows(table.schema))
    for name in sample.column_names:
        column = sample.column(name)
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        _leaves(
            column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0)),
            name,
            leaves,
        )
    return leaves


def _dictionary_paths(leaves: dict[str, pa.Array], ratio: float | None, numbers: bool) -> list[str]:
    ratio = DICTIONARY_MAX_DISTINCT_RATIO if ratio is None else ratio
    chosen = []
    for path, array in leaves.items():
        if not _dictionary_candidate(array.type, numbers):
            continue
        values = len(array) - array.null_count
        if values == 0:  # nothing seen: a string dictionary falls back to PLAIN when it outgrows its page,
            if pa.types.is_string(array.type) or pa.types.is_large_string(
                array.type
            ):  # a number's costs bytes
                chosen.append(path)
        elif pc.count_distinct(array).as_py() <= ratio * values:
            chosen.append(path)
    return chosen


def writer_options(codec: str, level: int | None, dictionary: list[str]) -> dict[str, Any]:
    """THE Parquet writer properties of the job's files (keyword arguments of `pq.ParquetWriter`): the write
    (RollingParquetWriter) and the write plan's estimate (estimate_ratio) both take them, so that the estimate
    measures what the writer writes. `level` None: the codec's default (CODEC_LEVELS); `dictionary`: the column
    paths to dictionary-encode (dictionary_columns)."""
    # pyarrow-stubs bugs: the codec Literal lacks "lz4_raw", and use_dictionary is typed bool where pyarrow also
    # takes a list of column paths (hence a plain dict of Any, not typed keywords).
    return {
        "compression": PYARROW_CODECS[codec],
        "compression_level": level if level is not None else CODEC_LEVELS.get(codec),
        "use_dictionary": dictionary,
        "data_page_size": DATA_PAGE_BYTES,
        # No ARROW:schema in the footer: pyarrow reads every type the job writes back the same from the Parquet
        # schema alone (field ids included), and the serialized schema is ~63 bytes a column per file: 6% of a
        # 5,000-key batch's bytes (docs/scaling.md, 'Wide records, third pass').
        "store_schema": False,
    }


def float_levels(
    leaves: dict[str, pa.Array], codec: str, level: int | None, dictionary: list[str]
) -> list[str]:
    """The float columns (of `sample_leaves`) to write at FLOAT_ZSTD_LEVEL: with zstd below that level, those
    not dictionary-encoded (near-unique values written PLAIN). In a 64 KiB page zstd 3's small-input parameters
    find little in such doubles, level 5's greedy search about 7% more, for about 12% more write CPU on a
    1,000-key batch; dictionary-encoded floats get larger at level 5, so they keep the job's level
    (docs/scaling.md, 'Fourth pass'). `level`: the level in force (writer_options' compression_level)."""
    if codec != "zstd" or level is None or level >= FLOAT_ZSTD_LEVEL:
        return []
    skip = set(dictionary)
    return [path for path, array in leaves.items() if path not in skip and pa.types.is_floating(array.type)]


def table_writer_options(table: pa.Table, codec: str, level: int | None) -> dict[str, Any]:
    """writer_options with the choices a sample of `table` makes: the dictionary columns, and the float columns
    raised to FLOAT_ZSTD_LEVEL (every other leaf at the job's level)."""
    leaves = sample_leaves(table)
    dictionary = _dictionary_paths(leaves, None, True)
    options = writer_options(codec, level, dictionary)
    base = options["compression_level"]
    raised = set(float_levels(leaves, codec, base, dictionary))
    if raised:
        options["compression_level"] = {path: FLOAT_ZSTD_LEVEL if path in raised else base for path in leaves}
    return options


def _chunk_bytes(metadata: pq.FileMetaData, group: int) -> int:
    row_group = metadata.row_group(group)
    return sum(row_group.column(index).total_compressed_size for index in range(row_group.num_columns))


def _with_timestamps(sample: pa.Table, timestamps: Iterable[str]) -> pa.Table:
    """The sample with these string columns as timestamps (those that do not convert stay text)."""
    for name in timestamps:
        index = sample.schema.get_field_index(name)
        if index < 0 or not pa.types.is_string(sample.schema.field(index).type):
            continue
        try:
            converted = strings_to_timestamps(sample.column(index).combine_chunks())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        sample = sample.set_column(index, name, converted)
    return sample


def estimate_ratio(
    table: pa.Table, codec: str, level: int | None = None, timestamps: Iterable[str] = ()
) -> float:
    """Parquet bytes per Arrow byte for this codec and level, as the job's writer writes them (writer_options,
    its dictionary choice), measured on a sample of the piece: its first SAMPLE_ROWS rows of at most
    SAMPLE_COLUMNS columns, evenly spaced (a wide piece's encode costs per column, and 256 of 10,001 columns
    estimate its ratio within a few percent: docs/scaling.md).

    The sample is written as two row groups, its first third and the rest, and the ratio is the difference of
    their column chunks' bytes over the difference of their Arrow bytes: what a row costs in a large row group.
    A sample's column chunks cost more per row than a file's (a chunk's fixed cost: page and dictionary headers,
    statistics, the dictionary itself, zstd on small inputs): 17% more for 5,000 narrow rows, 31% for a 176-row
    piece of 5,000-key objects; the difference leaves the fixed costs out (docs/scaling.md, 'the write plan's
    estimate'). A sample of fewer than 3 x ESTIMATE_MIN_ROWS rows gives its column chunks' bytes per Arrow byte.

    `timestamps`: top-level string columns observed as ISO date-times (observe_table), written as timestamps as
    the write task converts them; the ratio stays per Arrow byte of the piece as staged (their text)."""
    if table.num_columns > SAMPLE_COLUMNS:
        step = table.num_columns / SAMPLE_COLUMNS
        table = table.select([int(index * step) for index in range(SAMPLE_COLUMNS)])
    sample = table.slice(0, SAMPLE_ROWS)
    if sample.nbytes == 0:
        return 0.1
    first = sample.num_rows // 3 if sample.num_rows >= 3 * ESTIMATE_MIN_ROWS else 0
    head, rest = sample.slice(0, first), sample.slice(first)
    written = _with_timestamps(sample, timestamps)
    sink = pa.BufferOutputStream()
    # The writer's choices (dictionaries, float levels), made on the sample (on all the piece's rows: 2x the CPU,
    # no better ratio).
    options = table_writer_options(written, codec, level)
    with pq.ParquetWriter(sink, written.schema, **options) as out:
        if first:
            out.write_table(written.slice(0, first), row_group_size=first)
        out.write_table(written.slice(first), row_group_size=rest.num_rows)
    metadata = pq.read_metadata(pa.BufferReader(sink.getvalue()))
    if first:
        extra_bytes = _chunk_bytes(metadata, 1) - _chunk_bytes(metadata, 0)
        extra_arrow = rest.nbytes - head.nbytes
        if extra_bytes > 0 and extra_arrow > 0:
            return extra_bytes / extra_arrow
    return _chunk_bytes(metadata, metadata.num_row_groups - 1) / rest.nbytes if rest.nbytes else 0.1


def row_group_rows(
    rows: int, estimated_bytes: float, target_bytes: int, arrow_bytes: float | None = None
) -> int:
    """Rows per row group: at most ROW_GROUP_ROWS, and at most what fills a file of the target size.

    With `arrow_bytes` (the Arrow bytes of those rows, as the write task knows them), a row group may fill a
    whole file, as long as its rows hold at most GROUP_ARROW_BYTES in memory (the writer buffers a row group's
    rows): wide records (1,000 keys and more) get fewer, larger column chunks, which compress better and cost
    less footer (docs/scaling.md, 'Wide records, third pass'); narrow events reach ROW_GROUP_ROWS first, as
    before. Without it (compaction) a row group is a quarter of the target, so that a file can be closed near it."""
    bytes_per_row = max(1e-3, estimated_bytes / (rows or 1))
    if arrow_bytes is None:
        return int(max(1024, min(ROW_GROUP_ROWS, target_bytes / bytes_per_row / 4)))
    arrow_per_row = max(1e-3, arrow_bytes / (rows or 1))
    return int(
        max(1024, min(ROW_GROUP_ROWS, target_bytes / bytes_per_row, GROUP_ARROW_BYTES / arrow_per_row))
    )


@dataclass(frozen=True)
class StagedFile:
    staged: str
    rows: int
    bytes: int


@dataclass
class RollingParquetWriter:
    """Buffers tables and writes them as full row groups into files `<name_prefix>-<n>.parquet`."""

    storage: Storage
    out_dir: str
    name_prefix: str  # `<manifest_id>.part-<task>`
    schema: pa.Schema
    codec: str
    target_bytes: int
    group_rows: int
    level: int | None = None  # --COMPRESSION_LEVEL; None: the codec's default (CODEC_LEVELS)
    files: list[StagedFile] = field(default_factory=list, init=False)
    _buffer: list[pa.Table] = field(default_factory=list, init=False)
    _buffered: int = field(default=0, init=False)
    _writer: pq.ParquetWriter | None = field(default=None, init=False)
    _sink: Any = field(default=None, init=False)
    _path: str | None = field(default=None, init=False)
    _rows: int = field(default=0, init=False)

    def add(self, table: pa.Table) -> None:
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.group_rows:
            self._flush()

    def finish(self) -> list[StagedFile]:
        self._flush(final=True)
        self._close_file()
        return self.files

    def _flush(self, final: bool = False) -> None:
        """Write the buffered rows as full row groups (and the remainder too when final)."""
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        for offset in range(0, table.num_rows, self.group_rows):
            part = table.slice(offset, self.group_rows)
            if part.num_rows < self.group_rows and not final:
                self._buffer.append(part)
                self._buffered = part.num_rows
                break
            self._write(part)

    def _write(self, part: pa.Table) -> None:
        if self._writer is None:
            self._open_file(part)
        assert self._writer is not None
        before = self._sink.tell()
        self._writer.write_table(part, row_group_size=self.group_rows)
        self._rows += part.num_rows
        written = self._sink.tell()
        if written + (written - before) / 2 >= self.target_bytes:  # the next group would overshoot
            self._close_file()

    def _open_file(self, first: pa.Table) -> None:
        self._path = join(self.out_dir, f"{self.name_prefix}-{len(self.files):03d}.parquet")
        filesystem, path = self.storage.fs(self._path)
        make_parent(filesystem, path)
        self._sink = filesystem.open_output_stream(path, compression=None, buffer_size=OUTPUT_BUFFER)
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, **table_writer_options(first, self.codec, self.level)
        )

    def _close_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        self._writer.close()
        self._sink.close()
        filesystem, path = self.storage.fs(self._path)
        self.files.append(StagedFile(self._path, self._rows, filesystem.get_file_info(path).size))
        self._writer, self._sink, self._path, self._rows = None, None, None, 0
