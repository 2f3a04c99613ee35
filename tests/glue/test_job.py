"""The job end to end on the shared local SparkSession: real files in, Parquet read back with pyarrow/DuckDB."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from glue_helpers import parquet_files, quarantine_records, query, run, write_manifest

from glue_jobs import ndjson_to_parquet as job
from glue_jobs.ndjson_to_parquet import JobError, plan
from glue_jobs.ndjson_to_parquet.plan import plan_reads
from pipeline.embedded.sample_data import CORRUPT_LINES, write_drop

pytestmark = pytest.mark.spark
DAY = dt.date(2026, 11, 22)
FOOTER = {
    "snappy": ("SNAPPY", "SNAPPY"),
    "gzip": ("GZIP", "GZIP"),
    "zstd": ("ZSTD", "ZSTD"),
    "lz4": ("LZ4", "LZ4_RAW"),
    "brotli": ("BROTLI", "BROTLI"),
    "uncompressed": ("UNCOMPRESSED", "UNCOMPRESSED"),
}


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("drops")
    return {
        "plain": base / "a.ndjson",
        "gz": base / "b.ndjson.gz",
        "drift": base / "c.jsonl",
        "stats": [
            write_drop(base / "a.ndjson", 300, seed=1, day=DAY, dirty_every=60),
            write_drop(base / "b.ndjson.gz", 200, seed=2, day=DAY, gzip=True),
            write_drop(base / "c.jsonl", 100, seed=3, day=DAY, drift=True),
        ],
    }


@pytest.mark.parametrize("codec", list(FOOTER))
def test_each_codec_writes_its_footer(spark, tmp_path, out, drops, codec):
    manifest = write_manifest(tmp_path, [drops["plain"]])
    report = run(spark, manifest, out, codec)
    assert report["codec"] == codec and report["records_out"] == 300
    [file] = parquet_files(out)
    metadata = pq.ParquetFile(file).metadata
    arrow_name, duckdb_name = FOOTER[codec]
    assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {arrow_name}
    codecs = query(f"SELECT DISTINCT compression FROM parquet_metadata('{file}')")
    assert codecs == [(duckdb_name,)]
    assert query(f"SELECT count(*) FROM '{file}'") == [(300,)]
    assert spark.read.parquet(str(file)).count() == 300  # Spark 3.5 reads every codec back, brotli included


def test_batch_of_plain_gzip_and_drifted_files(spark, tmp_path, out, drops):
    manifest = write_manifest(tmp_path, [drops["plain"], drops["gz"], drops["drift"]])
    report = run(spark, manifest, out)
    lines = sum(s.lines for s in drops["stats"])
    bad = sum(s.bad_lines for s in drops["stats"])
    assert report["records_in"] == lines
    assert report["records_out"] + report["bad_records"] == report["records_in"]
    assert report["bad_records"] == bad == 5
    assert report["status"] == "succeeded" and report["files"] == 3
    [file] = parquet_files(out)  # small batch: one file
    assert file.name == "m-0001.part-00000-000.parquet"
    glob = f"{out}/dt=2026-11-22/*.parquet"
    assert query(f"SELECT count(*) FROM '{glob}'") == [(report["records_out"],)]
    # Typed columns, first-appearance column order, drift merged (the drifted column only in the third file).
    schema = pq.read_schema(file)
    assert schema.names[:5] == ["event_id", "event_type", "occurred_at", "received_at", "seq"]
    assert schema.names[-3:] == ["_source_file", "_manifest_id", "_ingested_at"]
    assert str(schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"
    assert (
        str(schema.field("user").type.field("traits").type.field("signup_at").type) == "timestamp[us, tz=UTC]"
    )
    assert (
        str(schema.field("properties").type.field("items").type)
        == "list<element: struct<sku: string, qty: int64, price: double>>"
    )
    logical = pq.ParquetFile(file).schema.column(2).logical_type
    assert "isAdjustedToUTC=true" in str(logical) and "microseconds" in str(logical)  # not INT96
    rows = query(
        f"SELECT _source_file, count(experiment), count(*), any_value(_manifest_id), "
        f"typeof(any_value(occurred_at)) FROM '{glob}' GROUP BY 1 ORDER BY 1"
    )
    assert rows == [
        (str(drops["plain"]), 0, 300, "m-0001", "TIMESTAMP WITH TIME ZONE"),
        (str(drops["gz"]), 0, 200, "m-0001", "TIMESTAMP WITH TIME ZONE"),
        (str(drops["drift"]), 100, 100, "m-0001", "TIMESTAMP WITH TIME ZONE"),
    ]
    # The quarantine holds every corrupt line with its source, raw line and reason.
    records = quarantine_records(out)
    assert len(records) == 5
    assert {r["source_file"] for r in records} == {str(drops["plain"])}
    assert [r["raw_line"].encode() for r in records] == list(CORRUPT_LINES[:5])
    assert all(r["reason"] for r in records)
    # The report file is the returned report.
    assert json.loads((out / "_reports" / "m-0001.json").read_text()) == json.loads(
        json.dumps(report, default=str)
    )
    assert not (out / "_staging").exists()


def test_spark_reads_the_output_back(spark, tmp_path, out, drops):
    manifest = write_manifest(tmp_path, [drops["drift"]])
    run(spark, manifest, out, "snappy")
    frame = spark.read.parquet(str(out / "dt=2026-11-22"))
    types = dict(frame.dtypes)
    assert types["occurred_at"] == "timestamp" and types["seq"] == "bigint"
    assert types["experiment"] == "struct<name:string,variant:string,exposed_at:timestamp>"
    assert frame.count() == 100
    first = frame.orderBy("seq").select("seq", "occurred_at").first()
    assert first.seq == 0 and first.occurred_at is not None


def _nasty_file(path: Path) -> tuple[int, int]:
    """A file with every kind of trouble; returns (non-blank lines, good records)."""
    content = (
        b"\xef\xbb\xbf" + b'{"id": 1, "ts": "2026-11-22T01:00:00.5Z", "v": 1.5}\r\n'
        b"\r\n\n   \n"
        b'{"id": 2, "ts": "2026-11-22T02:00:00Z", "v": 2, "extra": {"k": [1, 2]}}\r\n'
        b'[1, 2]\n"text"\n7\nnull\n{"id": 3, "v": \n'
        b'{"id": 4, "note": "caf\xc3\xa9 \xe2\x82\xac"}\n'
        b'{"id": 5, "note": "\xff"}\n'
        b'{"id": 6, "note": "a\x00b"}\n'
        b'{"id": 7, "mixed": [1, "x"]}\n'
        b'{"id": 9}{"id": 10}\n'  # two objects on one line: pyarrow alone would make two rows
        b'{"id": 8, "ts": "2026-11-22T08:00:00+02:00", "v": -3}'
    )  # no trailing newline
    path.write_bytes(content)
    return 13, 4


def test_every_line_accounted_for_with_nasty_inputs(spark, tmp_path, out):
    plain = tmp_path / "nasty.ndjson"
    lines, good = _nasty_file(plain)
    zipped = tmp_path / "nasty.json.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    empty = tmp_path / "empty.ndjson"
    empty.write_bytes(b"\n\n")
    report = run(spark, write_manifest(tmp_path, [plain, zipped, empty]), out, MAX_BAD_RECORD_RATIO=0.9)
    assert report["records_in"] == 2 * lines
    assert report["records_out"] == 2 * good
    assert report["records_out"] + report["bad_records"] == report["records_in"]
    assert report["blank_lines"] == 2 * 3 + 2
    glob = f"{out}/dt=2026-11-22/*.parquet"
    rows = query(
        f"SELECT id, strftime(ts, '%H:%M:%S.%f'), v, note FROM '{glob}' WHERE _source_file = '{plain}' "
        "ORDER BY id"
    )
    assert rows == [
        (1, "01:00:00.500000", 1.5, None),
        (2, "02:00:00.000000", 2.0, None),
        (4, None, None, "café €"),
        (8, "06:00:00.000000", -3.0, None),
    ]  # +02:00 -> UTC
    reasons = {
        r["raw_line"]: r["reason"].split(":")[0]
        for r in quarantine_records(out)
        if r["source_file"] == str(plain)
    }
    assert reasons["[1, 2]"] == "not_a_json_object" and reasons['"text"'] == "not_a_json_object"
    assert reasons['{"id": 3, "v": '] == "invalid_json"
    assert reasons['{"id": 7, "mixed": [1, "x"]}'] == "unconvertible"
    assert reasons['{"id": 9}{"id": 10}'] == "invalid_json"
    assert "invalid_utf8" in reasons.values()


def test_type_conflicts_majority_wins_lossless_values_converted(spark, tmp_path, out):
    numbers = tmp_path / "numbers.ndjson"
    numbers.write_text(
        "".join(json.dumps({"k": i, "amount": i + 0.5, "user": {"id": i}}) + "\n" for i in range(50))
    )
    strings = tmp_path / "strings.ndjson"
    strings.write_text(
        '{"k": 100, "amount": "12.50", "user": {"id": 1}}\n'
        '{"k": 101, "amount": "n/a", "user": {"id": 2}}\n'
        '{"k": 102, "amount": null, "user": "anonymous"}\n'
        '{"k": 103, "amount": 7, "user": {"id": 3}}\n'
    )
    report = run(spark, write_manifest(tmp_path, [numbers, strings]), out, MAX_BAD_RECORD_RATIO=0.2)
    assert report["records_in"] == 54 and report["records_out"] == 52 and report["bad_records"] == 2
    conflicts = {c["field"]: c for c in report["type_conflicts"]}
    assert conflicts["amount"]["resolved_as"] == "number"
    assert conflicts["amount"]["values_by_type"]["string"] == 2
    assert conflicts["user"]["resolved_as"] == "object"
    assert report["bad_records_by_reason"] == {"type_conflict": 2}
    glob = f"{out}/dt=2026-11-22/*.parquet"
    assert query(f"SELECT amount FROM '{glob}' WHERE k IN (100, 103) ORDER BY k") == [(12.5,), (7.0,)]
    bad = {r["raw_line"]: r["reason"] for r in quarantine_records(out)}
    assert set(bad) == {
        '{"k": 101, "amount": "n/a", "user": {"id": 2}}',
        '{"k": 102, "amount": null, "user": "anonymous"}',
    }
    assert "'amount'" in bad['{"k": 101, "amount": "n/a", "user": {"id": 2}}']


def test_conflicts_inside_one_block_and_string_majority(spark, tmp_path, out):
    mixed = tmp_path / "mixed.ndjson"
    rows = [{"k": i, "code": f"C{i}"} for i in range(20)] + [{"k": 20, "code": 42}, {"k": 21, "code": True}]
    mixed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = run(spark, write_manifest(tmp_path, [mixed]), out)
    assert report["records_out"] == 22 and report["bad_records"] == 0
    [conflict] = report["type_conflicts"]
    assert conflict["field"] == "code" and conflict["resolved_as"] == "string"
    glob = f"{out}/dt=2026-11-22/*.parquet"
    assert query(f"SELECT code FROM '{glob}' WHERE k >= 20 ORDER BY k") == [("42",), ("true",)]


def test_rerun_is_idempotent_and_leaves_other_manifests_alone(spark, tmp_path, out, drops):
    first = write_manifest(tmp_path, [drops["plain"]], manifest_id="m-a")
    other = write_manifest(tmp_path, [drops["gz"]], manifest_id="m-b")
    run(spark, first, out)
    run(spark, other, out)
    other_file = out / "dt=2026-11-22" / "m-b.part-00000-000.parquet"
    before = other_file.read_bytes()
    report = run(spark, first, out)
    names = [f.name for f in parquet_files(out)]
    assert names == ["m-a.part-00000-000.parquet", "m-b.part-00000-000.parquet"]
    assert other_file.read_bytes() == before
    glob = f"{out}/dt=2026-11-22/*.parquet"
    assert query(
        f"SELECT _manifest_id, count(*), count(DISTINCT seq) FROM '{glob}' GROUP BY 1 ORDER BY 1"
    ) == [("m-a", 300, 300), ("m-b", 200, 200)]
    assert report["records_out"] == 300
    assert len(quarantine_records(out, "m-a")) == 5  # replaced, not appended


def test_target_file_size_and_rerun_with_fewer_files(spark, tmp_path, out):
    big = tmp_path / "big.ndjson"
    write_drop(big, 30_000, seed=9, day=DAY)
    manifest = write_manifest(tmp_path, [big])
    report = run(spark, manifest, out, "uncompressed", TARGET_FILE_MB=1)  # ~4 MiB of output
    files = parquet_files(out)
    assert len(files) >= 3 and len(report["output_files"]) == len(files)
    sizes = [f.stat().st_size for f in files]
    assert max(sizes) < 2 * 1024 * 1024
    assert query(f"SELECT count(*), count(DISTINCT seq) FROM '{out}/dt=2026-11-22/*.parquet'") == [
        (30_000, 30_000)
    ]
    run(spark, manifest, out, "zstd")  # default target: one file; the older extra files must go
    files = parquet_files(out)
    assert [f.name for f in files] == ["m-0001.part-00000-000.parquet"]
    assert query(f"SELECT count(*) FROM '{out}/dt=2026-11-22/*.parquet'") == [(30_000,)]


def test_large_plain_file_read_in_ranges(spark, tmp_path, out, monkeypatch):
    path = tmp_path / "ranges.ndjson"
    stats = write_drop(path, 3000, seed=5, day=DAY, dirty_every=100)
    monkeypatch.setattr(plan, "SPLIT_BYTES", 100_000)  # the driver plans ~22 ranges
    report = run(spark, write_manifest(tmp_path, [path]), out, MAX_BAD_RECORD_RATIO=0.1)
    assert report["records_in"] == stats.lines and report["bad_records"] == stats.bad_lines
    assert query(
        f"SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM '{out}/dt=2026-11-22/*.parquet'"
    ) == [(3000, 3000, 0, 2999)]


def test_bad_ratio_exceeded_publishes_quarantine_but_no_parquet(spark, tmp_path, out, drops):
    dirty = tmp_path / "dirty.ndjson"
    stats = write_drop(dirty, 100, seed=4, day=DAY, dirty_every=5)
    with pytest.raises(JobError) as info:
        run(spark, write_manifest(tmp_path, [dirty]), out)
    assert info.value.error_name == "BadRecordRatioExceeded"
    assert f"{stats.bad_lines} of {stats.lines}" in info.value.message
    assert not (out / "dt=2026-11-22").exists() or not parquet_files(out)
    assert len(quarantine_records(out)) == stats.bad_lines
    report = json.loads((out / "_reports" / "m-0001.json").read_text())
    assert report["status"] == "failed" and report["bad_records"] == stats.bad_lines
    assert (
        report["records_out"] == 0 and report["records_not_published"] + report["bad_records"] == stats.lines
    )
    assert not (out / "_staging").exists()


def test_failed_rerun_keeps_previous_good_output(spark, tmp_path, out, drops):
    good = write_manifest(tmp_path, [drops["gz"]])
    run(spark, good, out)
    before = {f.name: f.read_bytes() for f in parquet_files(out)}
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:-20])  # truncated gzip stream
    with pytest.raises(JobError) as info:
        run(spark, write_manifest(tmp_path, [drops["gz"], broken]), out)
    assert info.value.error_name == "InputFileUnreadable" and "broken.ndjson.gz" in info.value.message
    assert {f.name: f.read_bytes() for f in parquet_files(out)} == before
    assert not (out / "_staging").exists()


def test_missing_mandatory_fails_optional_skipped(spark, tmp_path, out, drops):
    missing = tmp_path / "not-there.ndjson"
    with pytest.raises(JobError) as info:
        run(spark, write_manifest(tmp_path, [drops["plain"], missing]), out)
    assert info.value.error_name == "ManifestEntryMissing" and str(missing) in info.value.message
    assert not out.exists() or not any(out.rglob("*.parquet"))
    report = run(
        spark, write_manifest(tmp_path, [drops["plain"], missing], optional=("not-there.ndjson",)), out
    )
    assert report["files_skipped"] == [str(missing)] and report["files"] == 1


def test_file_urls_explicit_schema_and_manifest_id_check(spark, tmp_path, out, drops):
    schema = {
        "type": "struct",
        "fields": [
            {"name": "event_id", "type": "string", "nullable": True, "metadata": {}},
            {"name": "seq", "type": "long", "nullable": True, "metadata": {}},
            {"name": "occurred_at", "type": "timestamp", "nullable": True, "metadata": {}},
            {
                "name": "properties",
                "type": {
                    "type": "struct",
                    "fields": [{"name": "amount", "type": "decimal(12,2)", "nullable": True, "metadata": {}}],
                },
                "nullable": True,
                "metadata": {},
            },
        ],
    }
    schema_path = tmp_path / "schema.json"
    schema_path.write_text(json.dumps(schema))
    manifest = write_manifest(tmp_path, [f"file://{drops['drift']}"])
    with pytest.raises(JobError) as info:
        run(spark, manifest, out, MANIFEST_ID="other-id")
    assert info.value.error_name == "ManifestIdMismatch"
    report = run(spark, manifest, out, SCHEMA_PATH=schema_path, MANIFEST_ID="m-0001")
    assert report["records_out"] == 100
    assert "experiment" in report["ignored_fields"] and "user" in report["ignored_fields"]
    schema_out = pq.read_schema(parquet_files(out)[0])
    assert schema_out.names == [
        "event_id",
        "seq",
        "occurred_at",
        "properties",
        "_source_file",
        "_manifest_id",
        "_ingested_at",
    ]
    assert str(schema_out.field("properties").type) == "struct<amount: decimal128(12, 2)>"


def test_many_small_files_are_packed_and_each_row_keeps_its_source(spark, tmp_path, out):
    files = []
    for i in range(60):
        path = tmp_path / "drop" / (f"f{i:03d}.ndjson.gz" if i % 3 == 0 else f"f{i:03d}.ndjson")
        write_drop(path, 5, seed=100 + i, day=DAY, gzip=i % 3 == 0)
        files.append(path)
    sneaky = tmp_path / "drop" / "gzip-without-suffix.ndjson"
    sneaky.write_bytes(gzip.compress(b'{"event_id": "evt_sneaky", "seq": 0}\n'))
    files.append(sneaky)
    manifest = job.load_manifest(str(write_manifest(tmp_path, files)))
    tasks, _, _ = plan_reads(manifest, "staging", parallelism=2)
    assert 2 <= len(tasks) <= 8 and sum(len(t.parts) for t in tasks) == 61
    report = run(spark, write_manifest(tmp_path, files), out)
    assert report["files"] == 61 and report["records_in"] == 301 and report["records_out"] == 301
    rows = query(f"SELECT _source_file, count(*) FROM '{out}/dt=2026-11-22/*.parquet' GROUP BY 1")
    assert (
        len(rows) == 61 and dict(rows)[str(sneaky)] == 1 and all(n == 5 for f, n in rows if f != str(sneaky))
    )
