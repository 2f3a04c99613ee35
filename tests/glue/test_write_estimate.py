"""The write plan's estimate (issue 17): a read task's `estimate_ratio` on its first piece predicts the bytes the
job's writer writes for the whole batch, so that `group_pieces` plans as many files as the output needs.

Real pyarrow on both sides: the estimate's sample against RollingParquetWriter's files of the whole table (one
row group, as a wide batch's or a narrow batch's at ROW_GROUP_ROWS)."""

from __future__ import annotations

import datetime as dt
import math
import random

import pyarrow as pa
import pyarrow.parquet as pq

from glue_jobs.ndjson_to_parquet.constants import FLOAT_ZSTD_LEVEL, SAMPLE_COLUMNS, SAMPLE_ROWS
from glue_jobs.ndjson_to_parquet.parquet import (
    RollingParquetWriter,
    dictionary_columns,
    estimate_ratio,
    table_writer_options,
    writer_options,
)
from glue_jobs.ndjson_to_parquet.plan import Piece, group_pieces
from glue_jobs.ndjson_to_parquet.storage import Storage


def _wide(rows: int, columns: int, seed: int) -> pa.Table:
    """Flat objects like bench/wide_records.py's: each key present in about half the rows, its kind cycling
    (integers, few distinct strings, doubles of 3 decimals, near-unique strings, booleans, small integers)."""
    rng = random.Random(seed)
    data: dict[str, pa.Array] = {"id": pa.array([f"r{i:08d}" for i in range(rows)])}
    for key in range(columns):
        kind = key % 6
        present = [rng.random() < 0.5 for _ in range(rows)]
        if kind == 0:
            values: list[object] = [rng.randint(-(10**9), 10**9) for _ in range(rows)]
        elif kind == 1:
            values = [f"level-{rng.randint(0, 4)}" for _ in range(rows)]
        elif kind == 2:
            values = [round(rng.uniform(-1e6, 1e6), 3) for _ in range(rows)]
        elif kind == 3:
            values = [f"{i:x}-{key}-{rng.getrandbits(32):08x}" for i in range(rows)]
        elif kind == 4:
            values = [rng.random() < 0.5 for _ in range(rows)]
        else:
            values = [rng.randint(0, 100) for _ in range(rows)]
        data[f"k{key:05d}"] = pa.array([v if p else None for v, p in zip(values, present, strict=True)])
    return pa.table(data)


def _events(rows: int, seed: int) -> pa.Table:
    """Narrow nested events: near-unique ids and times, few distinct names, a sequence, amounts."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    return pa.table(
        {
            "event_id": pa.array([f"{rng.getrandbits(64):016x}" for _ in range(rows)]),
            "event_type": pa.array([rng.choice(("view", "click", "buy", "scroll")) for _ in range(rows)]),
            "occurred_at": pa.array(
                [start + dt.timedelta(milliseconds=i * 37 + rng.randint(0, 30)) for i in range(rows)],
                pa.timestamp("us", "UTC"),
            ),
            "seq": pa.array(range(rows), pa.int64()),
            "user": pa.array(
                [{"id": rng.randint(1, 20_000), "plan": rng.choice(("free", "pro"))} for _ in range(rows)]
            ),
            "ip": pa.array(
                [f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{i % 256}" for i in range(rows)]
            ),
            "amount": pa.array([round(rng.uniform(0, 500), 2) for _ in range(rows)]),
            "load_ms": pa.array([rng.randint(20, 3_000) for _ in range(rows)]),
        }
    )


def _written_ratio(table: pa.Table, tmp_path, name: str) -> float:
    """Parquet bytes per Arrow byte of the job's writer, the whole table in one row group (one file)."""
    writer = RollingParquetWriter(
        Storage(), str(tmp_path), name, table.schema, "zstd", 1 << 40, table.num_rows
    )
    writer.add(table)
    [staged] = writer.finish()
    return staged.bytes / table.nbytes


def _piece(arrow_bytes: int, ratio: float) -> Piece:
    return Piece("p.arrow", 1, arrow_bytes, (), (), "u", "s", False, 0, 0, 0, ratio)


def test_the_estimate_of_a_first_piece_is_within_8_percent_of_what_the_writer_writes(tmp_path):
    """Before: pyarrow's default writer (zstd level 1, every column a dictionary, 1 MiB pages, the ARROW:schema)
    on the sample, whose column chunks' fixed costs weigh far more than in a file's row group: 1.44x and 1.37x
    the bytes written here; on the bench's batches 1.34x for 1,000-key objects, 2.06x for 5,000 keys and 1.37x for
    narrow events (bench/results/estimate_vs_written_before.md)."""
    cases = {
        # A 600-row piece of 600-key objects (the 1,000-key bench's pieces hold ~880 rows) of a 6,000-row batch.
        "wide": (_wide(6_000, 600, seed=1), 600),
        # A SAMPLE_ROWS-row sample of a 131,072-row row group of narrow events (the piece holds ~20,000 rows).
        "narrow": (_events(131_072, seed=2), 20_000),
    }
    for name, (table, piece_rows) in cases.items():
        piece = table.slice(0, piece_rows)
        assert piece.num_columns > SAMPLE_COLUMNS or piece.num_rows > SAMPLE_ROWS
        written = _written_ratio(table, tmp_path, name)
        estimated = estimate_ratio(piece, "zstd")
        assert abs(estimated / written - 1) < 0.08, (name, estimated, written)  # before: 1.44x, 1.37x
        # The plan: a batch whose output fits the target once is one file (before: 2), and 2 at 0.55x of it.
        pieces = [_piece(table.nbytes // 10, estimated) for _ in range(10)]
        assert len(group_pieces(pieces, math.ceil(written * table.nbytes * 1.15))) == 1
        assert len(group_pieces(pieces, math.ceil(written * table.nbytes * 0.55))) == 2


def test_the_estimate_follows_the_compression_level_the_writer_uses():
    table = _events(30_000, seed=3)
    level_1, level_19 = estimate_ratio(table, "zstd", 1), estimate_ratio(table, "zstd", 19)
    assert level_19 < level_1 * 0.97
    assert estimate_ratio(table, "zstd") == estimate_ratio(table, "zstd", 3)  # CODEC_LEVELS' default
    assert writer_options("zstd", None, [])["compression_level"] == 3


def test_a_small_piece_is_estimated_from_its_one_row_group():
    table = _events(40, seed=4)  # under 3 x ESTIMATE_MIN_ROWS rows: no difference of two row groups
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **table_writer_options(table, "zstd", None))  # the writer's own choices
    metadata = pq.read_metadata(pa.BufferReader(sink.getvalue()))
    chunks = sum(metadata.row_group(0).column(i).total_compressed_size for i in range(metadata.num_columns))
    assert estimate_ratio(table, "zstd") == chunks / table.nbytes  # the column chunks, not the footer
    assert estimate_ratio(table.select([]), "zstd") == 0.1


def test_iso_strings_are_estimated_as_the_timestamps_the_write_task_makes(tmp_path):
    """A piece keeps its ISO date-time strings as text; the write task converts them (observe_table marks them):
    the estimate writes them as timestamps and keeps the ratio per Arrow byte of the staged text."""
    table = _events(131_072, seed=5)
    texts = pa.array([moment.isoformat() for moment in table.column("occurred_at").to_pylist()])
    staged = table.set_column(table.schema.get_field_index("occurred_at"), "occurred_at", texts)
    written = _written_ratio(table, tmp_path, "stamps") * table.nbytes / staged.nbytes
    piece = staged.slice(0, 20_000)
    as_text, as_timestamps = (
        estimate_ratio(piece, "zstd"),
        estimate_ratio(piece, "zstd", None, ["occurred_at"]),
    )
    assert abs(as_timestamps / written - 1) < 0.08, (as_timestamps, written)
    assert as_text > as_timestamps * 1.03  # here 1.10x against 1.06x of the bytes written
    assert estimate_ratio(piece, "zstd", None, ["event_type", "missing"]) == as_text  # not ISO, not there


def _doubles(rows: int) -> pa.Table:
    """Near-unique doubles (PLAIN), few distinct doubles (a dictionary), both also nested in a list of structs,
    and a string column: what float_levels tells apart."""
    rng = random.Random(5)
    unique = [round(rng.uniform(-1e6, 1e6), 3) for _ in range(rows)]
    few = [float(rng.randint(1, 20)) + 0.5 for _ in range(rows)]
    return pa.table(
        {
            "unique": unique,
            "few": few,
            "items": [[{"price": value, "qty": 1.5}] for value in unique],
            "name": [f"n{index % 7}" for index in range(rows)],
        }
    )


def _write(table: pa.Table, tmp_path, codec: str, level: int | None) -> dict[str, tuple[int, str]]:
    writer = RollingParquetWriter(
        storage=Storage(),
        out_dir=str(tmp_path),
        name_prefix=f"f{codec}{level}",
        schema=table.schema,
        codec=codec,
        target_bytes=1 << 30,
        group_rows=table.num_rows,
        level=level,
    )
    writer.add(table)
    [staged] = writer.finish()
    assert pq.read_table(staged.staged).equals(table)  # values unchanged, whatever the levels
    metadata = pq.read_metadata(staged.staged)
    chunks = [metadata.row_group(0).column(index) for index in range(metadata.num_columns)]
    return {chunk.path_in_schema: (chunk.total_compressed_size, chunk.compression) for chunk in chunks}


def test_near_unique_floats_get_zstd_level_5_and_every_other_column_keeps_the_jobs_level(tmp_path):
    """zstd 3 finds little in a 64 KiB page of near-unique doubles; level 5 about 7% more (docs/scaling.md,
    'Fourth pass'). Only PLAIN float columns are raised, nested ones included (per-column settings are keyed by
    Parquet column path: every path must match, or pyarrow would silently give a column its own default level)."""
    table = _doubles(40_000)
    options = table_writer_options(table, "zstd", 3)
    levels = options["compression_level"]
    assert {path for path, value in levels.items() if value == FLOAT_ZSTD_LEVEL} == {
        "unique",
        "items.list.element.price",
    }
    raised = _write(table, tmp_path, "zstd", 3)
    assert set(levels) == set(raised)  # one level for every column path of the file
    assert set(writer_options("zstd", 3, dictionary_columns(table))["use_dictionary"]) == set(
        options["use_dictionary"]
    )
    # the same file at level 3 throughout (level 4 is below the float level too, so level 3 stands in for it)
    plain = pq.ParquetWriter(
        str(tmp_path / "all3.parquet"), table.schema, **writer_options("zstd", 3, options["use_dictionary"])
    )
    plain.write_table(table, row_group_size=table.num_rows)
    plain.close()
    metadata = pq.read_metadata(str(tmp_path / "all3.parquet"))
    at_3 = {
        metadata.row_group(0).column(i).path_in_schema: metadata.row_group(0).column(i).total_compressed_size
        for i in range(metadata.num_columns)
    }
    assert raised["unique"][0] < 0.97 * at_3["unique"]
    for path in ("few", "name", "items.list.element.qty"):
        assert raised[path][0] == at_3[path]  # untouched columns: byte for byte the job's level


def test_no_float_level_for_other_codecs_or_a_level_already_at_least_5(tmp_path):
    table = _doubles(5_000)
    for codec, level in (("zstd", 5), ("zstd", 9), ("snappy", None), ("gzip", None)):
        options = table_writer_options(table, codec, level)
        assert options["compression_level"] == writer_options(codec, level, [])["compression_level"]
    assert isinstance(
        table_writer_options(table, "zstd", None)["compression_level"], dict
    )  # the default is 3
