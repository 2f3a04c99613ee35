"""Wide records, third pass (issue 17): output bytes against DuckDB's, and the per-column work of the stages.

The job's Parquet carries no ARROW:schema (every type it writes reads back the same from the Parquet schema), its
data pages are DATA_PAGE_BYTES, and a wide batch's row group may fill a whole file within GROUP_ARROW_BYTES of
buffered rows; observe_table and conform_to_contract answer most columns without a compute call. Values are
unchanged: the checks below read them back with pyarrow and DuckDB.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import random
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from glue_helpers import parquet_files, run, write_manifest

from glue_jobs.ndjson_to_parquet.conform import conform_to_contract, schema_has_timestamps, text_schema
from glue_jobs.ndjson_to_parquet.constants import GROUP_ARROW_BYTES, ROW_GROUP_ROWS, TS_TYPE
from glue_jobs.ndjson_to_parquet.parquet import (
    RollingParquetWriter,
    dictionary_sample_rows,
    row_group_rows,
)
from glue_jobs.ndjson_to_parquet.schema import WIDE_INT64, first_valid_index, observe_table
from glue_jobs.ndjson_to_parquet.storage import Storage


def test_first_valid_index_is_the_first_non_null_value_of_any_slice():
    rng = random.Random(7)
    for _ in range(2000):
        size = rng.randint(1, 90)
        share = rng.random()
        array = pa.array([None if rng.random() < share else str(i) for i in range(size)], pa.string())
        start = rng.randint(0, size - 1)
        part = array.slice(start, rng.randint(0, size - start))
        expected = next((i for i, value in enumerate(part.to_pylist()) if value is not None), None)
        assert first_valid_index(part) == expected


def test_observe_table_finds_iso_strings_after_nulls_and_integers_beyond_2_53_at_any_depth():
    table = pa.table(
        {
            "seen": pa.array([None, None, "2020-01-01T00:00:00Z", "2021-01-01 10:00"]),
            "mixed": pa.array([None, "2020-01-01T00:00:00Z", "x", None]),  # an ISO first value, then text
            "big": pa.array([1, 2**60, None, 3]),
            "nested": pa.array(
                [
                    {"ids": [1, 2], "at": "2020-01-01T00:00"},
                    None,
                    {"ids": [2**54], "at": None},
                    {"ids": None, "at": "2020-02-02T00:00Z"},
                ]
            ),
            "small": pa.array([1, 2, 3, None]),
            "empty": pa.array([None] * 4, pa.string()),
            "__ndjson_to_parquet_line__": pa.array([0, 1, 2, 3]),  # internal: never observed
        }
    )
    nested = table.schema.field("nested").type
    expected = [
        (("seen",), TS_TYPE, 2),
        (("mixed",), pa.string(), 2),
        (("big",), WIDE_INT64, 3),
        (("nested",), nested, 3),
        (("nested", "ids"), pa.list_(pa.int64()), 2),
        (("nested", "ids", None), WIDE_INT64, 3),
        (("nested", "at"), TS_TYPE, 2),
        (("small",), pa.int64(), 3),
        (("empty",), pa.string(), 0),
    ]
    assert observe_table(table) == expected
    # Sliced and multi-chunk pieces observe the same way (their bitmaps start mid-byte).
    assert observe_table(table.slice(2)) == [
        (("seen",), TS_TYPE, 2),
        (("mixed",), pa.string(), 1),
        (("big",), pa.int64(), 1),  # 2**60 is sliced off
        (("nested",), nested, 2),
        (("nested", "ids"), pa.list_(pa.int64()), 1),
        (("nested", "ids", None), WIDE_INT64, 1),
        (("nested", "at"), TS_TYPE, 1),
        (("small",), pa.int64(), 1),
        (("empty",), pa.string(), 0),
    ]
    doubled = pa.concat_tables([table, table])
    assert [(p, t, n // 2) for p, t, n in observe_table(doubled)] == expected


def test_timestamps_are_found_through_the_schema_text_at_any_depth():
    wide = [pa.field(f"k{i}", pa.int64()) for i in range(3000)]
    deep = pa.field("z", pa.list_(pa.struct([pa.field("t", pa.timestamp("s"))])))
    assert schema_has_timestamps(pa.schema([*wide, deep]))
    assert text_schema(pa.schema([*wide, deep])).field("z").type == pa.list_(pa.struct([("t", pa.string())]))
    assert not schema_has_timestamps(pa.schema(wide))
    assert text_schema(pa.schema(wide)) is None
    assert not schema_has_timestamps(pa.schema([pa.field("timestamp[x]", pa.int64())]))  # a name, not a type


def test_a_piece_with_the_batch_spellings_conforms_as_one_with_other_spellings():
    """The exact-names path (most pieces: a subset of the batch's columns, spelled as the schema spells them)
    gives the table, the reasons and the conversion counts the general path gives the same piece with a name
    spelled in another case (which it coalesces into the same column)."""
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("amount", pa.float64()),
            ("count", pa.int64()),
            ("note", pa.string()),
            ("absent", pa.bool_()),
        ]
    )
    piece = {
        "count": pa.array(["12", "x", None, "7"]),  # a string column of the contract's int64: one bad value
        "amount": pa.array([1, 2, None, 2**60]),  # integers into the batch's double: 2**60 is not exact
        "id": pa.array(["a", "b", "c", "d"]),
    }
    contract = frozenset({"count"})
    exact = conform_to_contract(pa.table(piece), schema, contract)
    respelled = {("ID" if name == "id" else name): array for name, array in piece.items()}
    general = conform_to_contract(pa.table(respelled), schema, contract)
    assert exact.table.equals(general.table)
    assert exact.table.schema == schema
    assert exact.bad == general.bad
    assert (
        exact.converted == general.converted == {"count": 1}
    )  # "12" and "7", less row 1's quarantined record
    assert sorted(exact.bad) == [1, 3]
    assert exact.bad[1].startswith("schema_contract: field 'count'")
    assert exact.bad[3].startswith("type_conflict: field 'amount'")
    assert exact.table.column("absent").null_count == 4
    assert exact.table.column("amount").to_pylist() == [1.0, 2.0, None, None]


def test_files_carry_no_arrow_schema_and_every_type_reads_back_the_same(tmp_path):
    """Without the ARROW:schema footer entry pyarrow reads each type the job can write (the batch's and an
    explicit --SCHEMA_PATH's) back the same, field ids included, and DuckDB reads the values."""
    ids = iter(range(1, 100))

    def field(name: str, kind: pa.DataType) -> pa.Field:
        return pa.field(name, kind, metadata={"PARQUET:field_id": str(next(ids))})

    schema = pa.schema(
        [
            field("i64", pa.int64()),
            field("i32", pa.int32()),
            field("i16", pa.int16()),
            field("i8", pa.int8()),
            field("f64", pa.float64()),
            field("f32", pa.float32()),
            field("flag", pa.bool_()),
            field("text", pa.string()),
            field("at", TS_TYPE),
            field("day", pa.date32()),
            field("huge", pa.decimal128(38, 0)),
            field("money", pa.decimal128(10, 2)),
            field("tags", pa.list_(pa.string())),
            field("user", pa.struct([("name", pa.string()), ("seen", pa.list_(TS_TYPE))])),
        ]
    )
    moment = dt.datetime(2026, 11, 22, 5, 6, 7, 123456, tzinfo=dt.UTC)
    rows = [
        {
            "i64": 2**62,
            "i32": -(2**31),
            "i16": 300,
            "i8": -5,
            "f64": 0.1,
            "f32": 1.5,
            "flag": True,
            "text": "é",
            "at": moment,
            "day": dt.date(2026, 11, 22),
            "huge": decimal.Decimal(10**37),
            "money": decimal.Decimal("12.34"),
            "tags": ["a", None],
            "user": {"name": "x", "seen": [moment]},
        },
        dict.fromkeys(schema.names),
    ]
    table = pa.Table.from_pylist(rows, schema=schema)
    writer = RollingParquetWriter(Storage(), str(tmp_path), "p", schema, "zstd", 1 << 30, 1024)
    writer.add(table)
    [staged] = writer.finish()
    assert b"ARROW:schema" not in (pq.ParquetFile(staged.staged).metadata.metadata or {})
    back = pq.read_table(staged.staged)
    assert back.schema.equals(schema) and back.equals(table)
    assert [f.metadata for f in back.schema] == [f.metadata for f in schema]  # the field ids
    stored = tmp_path / "stored.parquet"  # as the job wrote before: with the ARROW:schema
    pq.write_table(table, stored, store_schema=True)
    assert back.schema.equals(pq.read_table(stored).schema, check_metadata=True)
    assert duckdb.sql(
        f'SELECT i64, huge, "at", "user".seen[1] FROM \'{staged.staged}\' LIMIT 1'
    ).fetchall() == [(2**62, decimal.Decimal(10**37), moment, moment)]


def test_a_wide_row_group_may_fill_a_file_within_the_arrow_budget():
    target = 128 * 1024 * 1024
    # 1,000-key objects at 1 GB: 18,645 rows a task, ~3.7 KB of Parquet and ~19 KB of Arrow a row.
    rows = row_group_rows(18_645, 18_645 * 3_700, target, 18_645 * 19_000)
    assert rows == GROUP_ARROW_BYTES // 19_000 >= 18_645  # one row group holds the task's rows
    assert row_group_rows(18_645, 18_645 * 3_700, target) == int(target / 3_700 / 4)  # compaction: a quarter
    # Rows fat in Arrow (GROUP_ARROW_BYTES caps what the writer buffers) or in Parquet (a file's target).
    assert row_group_rows(50_000, 50_000 * 1_000, target, 50_000 * 100_000) == GROUP_ARROW_BYTES // 100_000
    assert row_group_rows(50_000, 50_000 * 5_000, target, 50_000 * 5_000) == int(target / 5_000)
    # Narrow events: ROW_GROUP_ROWS first, as before.
    assert row_group_rows(1_400_000, 67e6, target, 1_400_000 * 800) == ROW_GROUP_ROWS
    # The dictionary choice looks at fewer rows of wide tables, never fewer than 4,096.
    assert dictionary_sample_rows(pa.schema([(f"k{i}", pa.int64()) for i in range(40)])) == 16_384
    assert dictionary_sample_rows(pa.schema([(f"k{i}", pa.int64()) for i in range(2_000)])) == 4_096


def _wide_record(rng: random.Random, index: int, keys: int) -> dict[str, Any]:
    """bench/wide_records.py's record: `keys` keys of 2 * `keys` names, value kinds cycling with the key."""
    record: dict[str, Any] = {"id": f"r{index:08d}"}
    for key in sorted(rng.sample(range(2 * keys), keys)):
        kind = key % 6
        value: Any = (
            rng.randint(-(10**9), 10**9),
            f"level-{rng.randint(0, 4)}",
            round(rng.uniform(-1e6, 1e6), 3),
            f"{index:x}-{key}-{rng.getrandbits(32):08x}",
            rng.random() < 0.5,
            None if rng.random() < 0.3 else rng.randint(0, 100),
        )[kind]
        record[f"k{key:05d}"] = value
    return record


def test_a_wide_batch_is_no_larger_than_duckdbs_and_reads_back_the_same(spark, tmp_path):
    """1,000-key objects (bench/wide_records.py's kind): the job's Parquet, metadata columns included, is no
    larger than DuckDB's COPY of the same lines with the same codec (before the third pass: 2.2% larger, of
    which the ARROW:schema was 127 KB), and holds the same values."""
    rng = random.Random(1000)
    source = tmp_path / "wide.ndjson"
    source.write_text("".join(json.dumps(_wide_record(rng, i, 1000)) + "\n" for i in range(1000)))
    out = tmp_path / "out"
    report = run(spark, write_manifest(tmp_path, [source]), out)
    assert report["records_out"] == 1000 and report["bad_records"] == 0
    files = parquet_files(out)
    duck = tmp_path / "duck.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM read_json_auto('{source}')) TO '{duck}' (FORMAT parquet, COMPRESSION zstd)"
    )
    job_bytes = sum(path.stat().st_size for path in files)
    assert job_bytes <= duck.stat().st_size, (job_bytes, duck.stat().st_size)
    [group_rows] = {pq.ParquetFile(path).metadata.row_group(0).num_rows for path in files}
    assert group_rows == 1000  # one row group: the batch's column chunks are not split
    ours = pa.concat_tables(pq.read_table(path) for path in files)
    columns = [name for name in ours.column_names if not name.startswith("_")]
    theirs = duckdb.sql(
        f"SELECT {', '.join(columns)} FROM read_json_auto('{source}') ORDER BY id"
    ).to_arrow_table()
    ours = ours.select(columns).sort_by("id")
    for name in columns:  # DuckDB infers some integer columns as doubles: compare the values
        assert ours.column(name).to_pylist() == theirs.column(name).to_pylist(), name
