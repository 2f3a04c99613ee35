"""Every line exactly once, with the same outcome wherever it sits: the parse corpus, shuffled, and end to end.

The corpus (corpus_parse.py) gives each line its expected outcome. The parse functions are driven directly (no
Spark) in shuffled orders and small blocks; then the job runs on real files and the output is read back with
pyarrow, Spark (default settings) and DuckDB, the quarantine checked line by line (by offset).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
from corpus_parse import CASES, ROW, Case
from glue_helpers import parquet_files, quarantine_records, run, write_manifest

from glue_jobs.ndjson_to_parquet import JobError
from glue_jobs.ndjson_to_parquet.accounting import FileCount, check_line_accounting
from glue_jobs.ndjson_to_parquet.constants import JSON_CHUNK_BYTES, LINE, META_COLUMNS
from glue_jobs.ndjson_to_parquet.parse import (
    PYARROW_SAFE_DEPTH,
    _read_json,
    iter_blocks,
    nesting_depth,
    normalise,
    parse_block,
    schema_depth,
    shallow_for_pyarrow,
    strip_block_bom,
)

BLANKS = [b"", b"   ", b"\t", b"\r"]


def _matches(actual: Any, expected: Any) -> bool:
    """`actual` holds `expected`; fields the batch added (other lines' fields, the union of structs) are null
    (a missing field counts as null: the parse-level outcomes drop the nulls)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        extra = [key for key in actual if key not in expected]
        return all(_matches(actual.get(key), v) for key, v in expected.items()) and all(
            actual[key] is None for key in extra
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_matches(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    return bool(actual == expected)


def _outcomes(path: Path, block_bytes: int) -> dict[int, Any]:
    """By byte offset: ("row", data columns of the row without nulls) or ("bad", reason)."""
    outcomes: dict[int, Any] = {}
    for raw_offset, raw_block in iter_blocks(str(path), False, block_bytes=block_bytes):
        offset, block = strip_block_bom(raw_offset, raw_block)
        result = parse_block(str(path), offset, block)
        starts, position = [], offset
        for line in block.split(b"\n"):
            if line.strip(b" \t\r"):
                starts.append(position)
            position += len(line) + 1
        for table in result.tables:
            for row in table.to_pylist():
                ordinal = row.pop(LINE)
                assert starts[ordinal] not in outcomes
                outcomes[starts[ordinal]] = (ROW, {k: v for k, v in row.items() if v is not None})
        for bad in result.bad:
            assert bad["offset"] not in outcomes
            outcomes[bad["offset"]] = ("bad", bad["reason"])
        assert result.records == len(starts)
    return outcomes


def _write_lines(path: Path, lines: list[bytes]) -> list[int]:
    """The lines after a blank first line (so that a byte order mark in a case is mid-file); their offsets."""
    offsets, position = [], 1
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    path.write_bytes(b"\n" + b"\n".join(lines) + b"\n")
    return offsets


def test_the_corpus_covers_every_class():
    kinds = {case.kind for case in CASES}
    assert len(CASES) >= 140 and {case.outcome for case in CASES} >= {
        ROW,
        "invalid_json",
        "invalid_utf8",
        "not_a_json_object",
        "nesting_too_deep",
    }
    assert {"empty object", "nesting too deep", "BOM mid-file", "top-level non-object"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind}:{c.line[:30]!r}")
def test_each_line_alone_and_among_neighbours(tmp_path, case: Case):
    # Alone, first in a block of good lines, after a bad line, after a null: always the same outcome.
    neighbours = [b'{"n": 1}', b"null", b"{bad", b'{"n": NaN}', b"{}"]
    for number, lines in enumerate(([case.line], [case.line, *neighbours], [*neighbours, case.line])):
        path = tmp_path / f"f{number}.ndjson"
        offsets = _write_lines(path, lines)
        outcome = _outcomes(path, 1 << 20)[offsets[lines.index(case.line)]]
        if case.outcome == ROW:
            assert outcome[0] == ROW and _matches(outcome[1], case.expected_row()), outcome
        else:
            assert outcome[0] == "bad" and outcome[1].split(":")[0] == case.outcome, outcome


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_orders_and_block_sizes_give_each_line_the_same_outcome(tmp_path, seed):
    lines = (
        [case.line for case in CASES if len(case.line) < 10_000] + BLANKS * 5 + [b"null", b"{}", b"NaN"] * 3
    )
    reference: dict[bytes, Any] | None = None
    rng = random.Random(seed)
    for block_bytes in (64, 700, 4096, 1 << 20):
        order = lines[:]
        rng.shuffle(order)
        path = tmp_path / f"shuffled-{block_bytes}.ndjson"
        offsets = _write_lines(path, order)
        outcomes = _outcomes(path, block_bytes)
        by_line = {line: outcomes.get(offset) for line, offset in zip(order, offsets, strict=True)}
        assert sum(1 for line in order if line.strip(b" \t\r")) == len(outcomes)  # every record exactly once
        if reference is None:
            reference = by_line
        assert by_line == reference


def test_pyarrow_is_never_given_a_line_that_could_nest_as_deep_as_its_safe_depth():
    """The fast path's guard (pyarrow's reader recurses per level and overflows its stack near 15,000): sound on
    short lines, long flat lines and brackets inside strings; a deep line among short ones sends the block to the
    exact scan, and the block's lines end exactly as the slow path decides (the one too deep is quarantined)."""
    short = b'{"a":{"b":[1,2]},"c":"x"}\n' * 5_000
    flat = json.dumps({f"k{index}": index for index in range(3_000)}).encode() + b"\n"
    in_strings = json.dumps({"s": "[" * 5_000, "t": "{" * 5_000}).encode() + b"\n"
    deep = b'{"a":' + b"[" * PYARROW_SAFE_DEPTH + b"]" * PYARROW_SAFE_DEPTH + b"}\n"
    assert shallow_for_pyarrow(short)
    assert shallow_for_pyarrow(flat * 10)
    # the bracket count says maybe; the exact scan says no
    assert shallow_for_pyarrow(short + in_strings + short)
    assert not shallow_for_pyarrow(short + deep + short)
    # a line deeper than the schema check, beyond Python's recursion limit, yet below the guard: pyarrow reads
    # it, the schema shows it, and the slow path quarantines that line alone; among short lines the bracket
    # count sends the block to the exact scan first, with the same outcome
    mid = b'{"a":' + b"[" * 1_500 + b"]" * 1_500 + b"}\n"
    assert shallow_for_pyarrow(mid + flat)
    for block, rows in ((mid + flat, 1), (short + mid + short, 10_000)):
        result = parse_block("s3://b/k", 0, block)
        assert sum(table.num_rows for table in result.tables) == rows
        assert [record["reason"].split(":")[0] for record in result.bad] == ["nesting_too_deep"]


def test_the_accounting_check_names_the_file_and_the_four_numbers():
    check_line_accounting({"a.ndjson": FileCount(lines=10, rows=7, quarantined=2, blank=1)})
    with pytest.raises(JobError) as caught:
        check_line_accounting(
            {
                "a.ndjson": FileCount(lines=10, rows=7, quarantined=2, blank=1),
                "s3://b/b.ndjson": FileCount(lines=10, rows=5, quarantined=2, blank=1),
            }
        )
    assert caught.value.error_name == "LineAccountingMismatch"
    assert "s3://b/b.ndjson: 5 rows + 2 quarantined + 1 blank != 10 lines" in caught.value.message
    assert "a.ndjson:" not in caught.value.message.replace("s3://b/b.ndjson", "")


def _engine_rows(spark, out: Path) -> dict[str, list[dict[str, Any]]]:
    """The output rows by _source_file, data columns only, read by pyarrow, Spark and DuckDB."""
    directory = out / "dt=2026-11-22"
    readers = {
        "pyarrow": pq.read_table(directory).to_pylist(),
        "spark": [row.asDict(recursive=True) for row in spark.read.parquet(str(directory)).collect()],
    }
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{directory}/*.parquet', hive_partitioning = false)")
    readers["duckdb"] = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    by_engine: dict[str, list[dict[str, Any]]] = {}
    for engine, rows in readers.items():
        by_engine[engine] = rows
        for row in rows:
            assert row["_manifest_id"] == "m-0001" and row["_ingested_at"] is not None
    return by_engine


@pytest.mark.spark
def test_the_corpus_end_to_end_line_by_line(spark, tmp_path, out):
    assert spark.conf.get("spark.sql.caseSensitive", "false") == "false"  # Spark's default settings
    files = []
    for number, case in enumerate(CASES):
        path = tmp_path / f"case-{number:03d}.ndjson"
        path.write_bytes(b"\n" + case.line + b"\n")  # a blank line first: a BOM in the case is mid-file
        files.append(path)
    mixed = tmp_path / "mixed.ndjson"
    mixed_lines = [case.line for case in CASES] + BLANKS
    random.Random(7).shuffle(mixed_lines)
    mixed_offsets = _write_lines(mixed, mixed_lines)
    report = run(spark, write_manifest(tmp_path, [*files, mixed]), out, MAX_BAD_RECORD_RATIO=1)
    rows_expected = sum(case.outcome == ROW for case in CASES)
    assert report["status"] == "succeeded"
    assert report["records_in"] == 2 * len(CASES) and report["blank_lines"] == len(CASES) + len(BLANKS) + 1
    assert report["records_out"] == 2 * rows_expected
    assert report["bad_records"] == 2 * (len(CASES) - rows_expected)
    bad = {(r["source_file"], r["offset"]): r for r in quarantine_records(out)}
    assert len(bad) == report["bad_records"]
    for engine, rows in _engine_rows(spark, out).items():
        by_file: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_file.setdefault(row["_source_file"], []).append(
                {k: v for k, v in row.items() if k not in META_COLUMNS}
            )
        assert len(by_file.pop(str(mixed))) == rows_expected, engine
        for case, path in zip(CASES, files, strict=True):
            if case.outcome == ROW:
                [row] = by_file.pop(str(path))
                assert _matches(row, case.expected_row()), (engine, case, row)
            else:
                assert str(path) not in by_file
                assert bad[(str(path), 1)]["reason"].split(":")[0] == case.outcome, case
        assert not by_file
    # The mixed file: each bad line quarantined at its offset with its case's reason.
    reasons = {case.line: case.outcome for case in CASES}
    for line, offset in zip(mixed_lines, mixed_offsets, strict=True):
        if line in reasons and reasons[line] != ROW:
            record = bad[(str(mixed), offset)]
            assert record["reason"].split(":")[0] == reasons[line]
            assert (
                record["raw_line"].encode("utf-8", "surrogateescape") == line or "raw_line_base64" in record
            )


@pytest.mark.spark
def test_a_batch_of_only_empty_objects_gives_rows_of_metadata_columns(spark, tmp_path, out):
    path = tmp_path / "empty.ndjson"
    path.write_bytes(b"{}\n{ }\n\n {} \r\n{}")
    report = run(spark, write_manifest(tmp_path, [path]), out)
    assert report["status"] == "succeeded"
    assert (report["records_in"], report["records_out"], report["bad_records"], report["blank_lines"]) == (
        4,
        4,
        0,
        1,
    )
    [file] = parquet_files(out)
    table = pq.read_table(file)
    assert table.column_names == list(META_COLUMNS) and table.num_rows == 4
    assert spark.read.parquet(str(file)).count() == 4
    assert duckdb.sql(f"SELECT count(*), count(_source_file) FROM '{file}'").fetchall() == [(4, 4)]


@pytest.mark.spark
def test_an_entry_listed_three_times_is_read_once(spark, tmp_path, out):
    path = tmp_path / "a.ndjson"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\nnull\n')
    other = tmp_path / "b.ndjson"
    other.write_bytes(b'{"a": 3}\n')
    manifest = tmp_path / "m-0001.json"
    entries = [{"url": str(path)}, {"url": f"file://{path}"}, {"url": "a.ndjson"}, {"url": str(other)}]
    manifest.write_text(
        json.dumps({"manifest_id": "m-0001", "date_prefix": "2026-11-22", "entries": entries})
    )
    report = run(spark, manifest, out, MAX_BAD_RECORD_RATIO=1)
    assert report["duplicate_entries"] == [{"url": str(path), "count": 3}]
    assert (report["files"], report["records_in"], report["records_out"], report["bad_records"]) == (
        2,
        4,
        3,
        1,
    )
    assert sorted(r["a"] for r in pq.read_table(out / "dt=2026-11-22").to_pylist()) == [1, 2, 3]
    assert len(quarantine_records(out)) == 1


def test_the_schema_pyarrow_reads_is_as_deep_as_the_deepest_line():
    """The fast path reads nesting off pyarrow's schema (parse.schema_depth) where the slow path measures each
    line (nesting_depth): on every corpus line pyarrow reads, alone and all together, they agree."""
    readable = []
    for case in CASES:
        if case.outcome in (ROW, "nesting_too_deep") and shallow_for_pyarrow(case.line):
            try:
                table = pajson.read_json(pa.BufferReader(case.line))
            except pa.ArrowInvalid:
                continue
            assert schema_depth(table.schema) == nesting_depth(case.line), case.line[:80]
            readable.append(case.line)
    assert len(readable) > 50 and max(nesting_depth(line) for line in readable) >= 1_000
    lines = [line for line in readable if line.startswith(b"{")]
    deepest = max(nesting_depth(line) for line in lines)
    assert schema_depth(pajson.read_json(pa.BufferReader(b"\n".join(lines))).schema) == deepest


def test_a_block_parses_in_one_chunk_to_the_table_small_chunks_give():
    """The fast path reads a block in one pyarrow chunk (wide records: pyarrow's cost per chunk is per column):
    the same rows, types and values as JSON_CHUNK_BYTES chunks give, for wide and for narrow lines."""
    rng = random.Random(7)
    wide = [
        json.dumps(
            {
                f"k{key}": [key, rng.random(), f"v{rng.random()}", None, rng.random() < 0.5][key % 5]
                for key in range(2_000)
            }
        )
        for _ in range(150)
    ]
    narrow = [
        json.dumps({"id": n, "o": {"x": rng.random(), "tags": ["a"] * (n % 3)}, "s": None if n % 4 else "v"})
        for n in range(60_000)
    ]
    for lines in (wide, narrow):
        block = ("\n".join(lines) + "\n").encode()
        assert len(block) > JSON_CHUNK_BYTES
        small = normalise(_read_json(block))
        result = parse_block("s3://b/k", 0, block)
        assert len(result.tables) == 1 and not result.bad
        one = result.tables[0].drop_columns([LINE])
        assert one.num_rows == len(lines) and one.schema == small.schema and one.equals(small)
