"""Argument parsing, codec list, manifest validation and the pure parsing/conversion pieces (no Spark)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from glue_jobs import ndjson_to_parquet as job
from glue_jobs.ndjson_to_parquet import JobError, load_manifest, parse_job_args, resolve_schema
from glue_jobs.ndjson_to_parquet.conform import conform, strings_to_timestamps

PACKAGE_DIR = Path(job.__file__).parent
CODECS_JSON = PACKAGE_DIR.parent / "codecs.json"  # glue_jobs/codecs.json, copied into the Glue zip

BASE = [
    "--JOB_NAME",
    "t",
    "--MANIFEST_PATH",
    "/nonexistent/m.json",
    "--OUTPUT_PATH",
    "/tmp/x/",
    "--COMPRESSION_TYPE",
    "zstd",
]


def test_required_and_defaults():
    args = parse_job_args(BASE)
    assert args.output_path == "/tmp/x"
    assert args.bad_records_path == "/tmp/x/_bad_records"
    assert (args.max_bad_record_ratio, args.target_file_mb) == (0.05, 128)
    assert args.schema_path is None and args.manifest_id is None


def test_unknown_arguments_ignored_and_equals_form():
    args = parse_job_args(
        [
            "--JOB_ID",
            "j_1",
            "--enable-metrics",
            "--TempDir",
            "s3://t/",
            *BASE,
            "--MAX_BAD_RECORD_RATIO=0.5",
            "--TARGET_FILE_MB",
            "64",
            "--MANIFEST_ID",
            "m-1",
        ]
    )
    assert args.max_bad_record_ratio == 0.5 and args.target_file_mb == 64 and args.manifest_id == "m-1"


@pytest.mark.parametrize("missing", ["--JOB_NAME", "--MANIFEST_PATH", "--OUTPUT_PATH", "--COMPRESSION_TYPE"])
def test_missing_required_argument(missing):
    argv = list(BASE)
    index = argv.index(missing)
    del argv[index : index + 2]
    with pytest.raises(JobError) as info:
        parse_job_args(argv)
    assert info.value.error_name == "MissingArgument"
    assert missing in info.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_BAD_RECORD_RATIO", "1.5"),
        ("MAX_BAD_RECORD_RATIO", "abc"),
        ("MAX_BAD_RECORD_RATIO", "-0.1"),
        ("TARGET_FILE_MB", "0"),
        ("TARGET_FILE_MB", "12.5"),
        ("MANIFEST_ID", "bad id!"),
    ],
)
def test_invalid_optional_argument(name, value):
    with pytest.raises(JobError) as info:
        parse_job_args([*BASE, f"--{name}", value])
    assert info.value.error_name == "InvalidArgument"
    assert f"--{name}" in info.value.message and value in info.value.message


def test_lzo_refused_before_any_data_is_read_with_the_working_list():
    argv = [*BASE[:-1], "lzo"]  # the manifest does not even exist: the codec is checked first
    with pytest.raises(JobError) as info:
        parse_job_args(argv)
    assert info.value.error_name == "UnsupportedCompression"
    for codec in ("snappy", "gzip", "zstd", "lz4", "brotli", "uncompressed"):
        assert codec in info.value.message
    with pytest.raises(JobError) as info:
        parse_job_args([*BASE[:-1], "bzip2"])
    assert info.value.error_name == "UnsupportedCompression" and "not a known codec" in info.value.message


def test_run_job_also_refuses_lzo_before_reading(spark, tmp_path):
    args = job.JobArgs(
        "t", str(tmp_path / "missing.json"), str(tmp_path / "out"), "lzo", str(tmp_path / "bad")
    )
    with pytest.raises(JobError) as info:
        job.run_job(spark, args)
    assert info.value.error_name == "UnsupportedCompression"
    assert not (tmp_path / "out").exists()


def test_codec_list_is_the_single_source_of_truth():
    doc = json.loads(CODECS_JSON.read_text())
    # Every codec the issue names is either supported or refused with a reason.
    assert set(doc["supported"]) | set(doc["unsupported"]) == {
        "snappy",
        "gzip",
        "zstd",
        "lz4",
        "brotli",
        "lzo",
        "uncompressed",
    }
    assert not set(doc["supported"]) & set(doc["unsupported"])
    assert set(doc["supported"]) <= set(job.PYARROW_CODECS)
    assert job.load_codecs()["supported"] == doc["supported"]


def test_codec_list_says_which_codecs_athena_reads():
    """Athena's compression pages (docs.aws.amazon.com/athena/latest/ug/compression-formats.html) list BZIP2,
    DEFLATE, GZIP, LZ4, LZO, SNAPPY, ZLIB and ZSTD: no Brotli. The one list says so for Terraform and the CLI."""
    doc = json.loads(CODECS_JSON.read_text())
    assert set(doc["athena"]) == set(doc["supported"])
    assert [c for c in doc["supported"] if not doc["athena"][c]] == ["brotli"]
    assert job.load_codecs()["athena"] == doc["athena"]


def test_brotli_into_a_glue_catalog_is_reported_as_unreadable_by_athena(capsys):
    """Warned, not refused, in the job: the embedded run also registers a Glue catalog and reads brotli with
    DuckDB; a deployed stack refuses brotli at `terraform plan` (allow_codec_athena_cannot_read)."""
    from glue_jobs.ndjson_to_parquet.report import new_report

    manifest = load_manifest(str(PACKAGE_DIR.parent / "samples" / "manifest.json"))
    glue = parse_job_args([*BASE[:-1], "brotli", "--CATALOG_DATABASE", "lake"])
    report = new_report(glue, manifest, {})
    [warning] = report["warnings"]
    assert "Athena cannot read brotli" in warning and "lake" in warning and "zstd" in warning
    assert "Athena cannot read brotli" in capsys.readouterr().err
    local = parse_job_args([*BASE[:-1], "brotli"])  # no Glue catalog: a local table, nothing to warn about
    assert "warnings" not in new_report(local, manifest, {})
    zstd = parse_job_args([*BASE, "--CATALOG_DATABASE", "lake"])
    assert "warnings" not in new_report(zstd, manifest, {})


def test_compression_level_defaults_ranges_and_refusals():
    """--COMPRESSION_LEVEL: the default is CODEC_LEVELS, the ranges are codecs.json's "levels" (pyarrow's own
    bounds for gzip and brotli, zstd's 1-22 without the negative "fast" levels), codecs without levels refuse it."""
    import pyarrow as pa

    from glue_jobs.ndjson_to_parquet.constants import CODEC_LEVELS

    levels = json.loads(CODECS_JSON.read_text())["levels"]
    assert levels == {"zstd": [1, 22], "gzip": [1, 9], "brotli": [0, 11]}
    for codec in ("gzip", "brotli"):
        assert levels[codec] == [
            pa.Codec.minimum_compression_level(codec),
            pa.Codec.maximum_compression_level(codec),
        ]
        assert CODEC_LEVELS[codec] == pa.Codec.default_compression_level(codec)  # today's bytes unchanged
    assert parse_job_args(BASE).compression_level == 3
    assert parse_job_args([*BASE, "--COMPRESSION_LEVEL", "19"]).compression_level == 19
    assert parse_job_args([*BASE[:-1], "brotli", "--COMPRESSION_LEVEL=0"]).compression_level == 0
    assert parse_job_args([*BASE[:-1], "snappy"]).compression_level is None
    for codec, level in [("zstd", "23"), ("zstd", "0"), ("zstd", "3.5"), ("gzip", "10"), ("brotli", "-1")]:
        with pytest.raises(JobError) as info:
            parse_job_args([*BASE[:-1], codec, "--COMPRESSION_LEVEL", level])
        assert info.value.error_name == "InvalidCompressionLevel"
        assert f"'{level}'" in info.value.message and codec in info.value.message
        lowest, highest = levels[codec]
        assert f"from {lowest} to {highest}" in info.value.message
    for codec in ("snappy", "lz4", "uncompressed"):
        with pytest.raises(JobError) as info:
            parse_job_args([*BASE[:-1], codec, "--COMPRESSION_LEVEL", "3"])
        assert info.value.error_name == "InvalidCompressionLevel"
        assert f"{codec} takes no level" in info.value.message and "zstd 1-22" in info.value.message
    assert "--COMPRESSION_LEVEL" in job.args.help_text() and "zstd 3" in job.args.help_text()


def test_compression_level_reaches_the_parquet_writer(tmp_path):
    """The level is what the writer uses: zstd 19 writes fewer bytes than zstd 1, the values read back equal."""
    import pyarrow.parquet as pq

    from glue_jobs.ndjson_to_parquet.parquet import RollingParquetWriter
    from glue_jobs.ndjson_to_parquet.storage import Storage

    table = pa.table(
        {"text": [f"event {i % 977} from host-{i % 31} said {i * 7919 % 100003}" for i in range(50_000)]}
    )
    sizes = {}
    for level in (1, 19):
        writer = RollingParquetWriter(
            Storage(), str(tmp_path / str(level)), "p", table.schema, "zstd", 1 << 30, 50_000, level
        )
        writer.add(table)
        [staged] = writer.finish()
        sizes[level] = staged.bytes
        assert pq.read_table(staged.staged).equals(table)
    assert sizes[19] < sizes[1]


def test_codec_list_found_in_working_directory(tmp_path, monkeypatch):
    """On Glue, --extra-files lands in the working directory; a lone copy of the package must find it there."""
    script_dir = tmp_path / "script"
    shutil.copytree(PACKAGE_DIR, script_dir / "lone_script", ignore=shutil.ignore_patterns("__pycache__"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = importlib.util.spec_from_file_location(
        "lone_script",
        script_dir / "lone_script" / "__init__.py",
        submodule_search_locations=[str(script_dir / "lone_script")],
    )
    lone = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "lone_script", lone)
    spec.loader.exec_module(lone)
    monkeypatch.chdir(workdir)
    with pytest.raises(lone.JobError) as info:
        lone.load_codecs()
    assert info.value.error_name == "CodecListMissing" and "--extra-files" in info.value.message
    (workdir / "codecs.json").write_text(CODECS_JSON.read_text())
    assert "zstd" in lone.load_codecs()["supported"]


# ------------------------------------------------------------------------------------------------ manifest


def _manifest(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "m.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


@pytest.mark.parametrize(
    "doc",
    [
        "{not json",
        [],
        {"date_prefix": "2026-11-22", "entries": [{"url": "a"}]},
        {"manifest_id": "m", "date_prefix": "22/11/2026", "entries": [{"url": "a"}]},
        {"manifest_id": "m", "date_prefix": "2026-02-30", "entries": [{"url": "a"}]},
        {"manifest_id": "m", "date_prefix": "2026-11-22", "entries": []},
        {"manifest_id": "m", "date_prefix": "2026-11-22", "entries": [{"mandatory": True}]},
        {"manifest_id": "m", "date_prefix": "2026-11-22", "entries": [{"url": "a", "mandatory": "yes"}]},
    ],
)
def test_invalid_manifests(tmp_path, doc):
    with pytest.raises(JobError) as info:
        load_manifest(_manifest(tmp_path, doc))
    assert info.value.error_name == "InvalidManifest"


def test_manifest_missing(tmp_path):
    with pytest.raises(JobError) as info:
        load_manifest(str(tmp_path / "nope.json"))
    assert info.value.error_name == "ManifestNotFound" and "nope.json" in info.value.message


def test_manifest_urls_relative_file_and_s3(tmp_path):
    path = _manifest(
        tmp_path,
        {
            "manifest_id": "m",
            "date_prefix": "2026-11-22",
            "entries": [
                {"url": "rel/a.ndjson"},
                {"url": f"file://{tmp_path}/b.ndjson", "mandatory": False},
                {"url": "s3a://bucket/k.ndjson"},
            ],
        },
    )
    manifest = load_manifest(path)
    assert [e.location for e in manifest.entries] == [
        str(tmp_path / "rel/a.ndjson"),
        str(tmp_path / "b.ndjson"),
        "s3://bucket/k.ndjson",
    ]
    assert [e.mandatory for e in manifest.entries] == [True, False, True]


# ------------------------------------------------------------------------------------------------ line splitting


def test_ranges_cover_every_line_exactly_once(tmp_path):
    lines = [json.dumps({"n": i, "pad": "x" * (i % 37)}).encode() for i in range(400)]
    data = b"\n".join(lines)  # the last line has no newline
    path = tmp_path / "f.ndjson"
    path.write_bytes(data)
    for step in (1, 7, 64, 1000, len(data)):
        seen = []
        for start in range(0, len(data), step):
            for _, block in job.iter_blocks(
                str(path), False, start, min(len(data), start + step), block_bytes=50
            ):
                seen += [line for line in block.split(b"\n") if line]
        assert seen == lines, step


def test_gzip_blocks_and_offsets(tmp_path):
    path = tmp_path / "f.ndjson.gz"
    payload = b"".join(b'{"n": %d}\n' % i for i in range(1000))
    path.write_bytes(gzip.compress(payload[:5000]) + gzip.compress(payload[5000:]))  # two gzip members
    blocks = list(job.iter_blocks(str(path), True, block_bytes=333))
    assert b"".join(block for _, block in blocks) == payload
    assert all(payload[offset : offset + len(block)] == block for offset, block in blocks)


def test_parse_block_accounts_for_every_nasty_line():
    block = (
        b'{"a": 1}\r\n'
        b"\r\n"  # blank (CRLF)
        b"   \t\n"  # blank (whitespace)
        b'{"a": 2, "b": [1, "x"]}\n'  # mixed-type array: arrow cannot hold it
        b'{"a": 3, "a": 4}\n'  # duplicate key
        b'"str"\n[1]\n42\nnull\ntrue\n'
        b'{"a": "\xff"}\n'  # invalid UTF-8
        b'{"a": "x\x00"}\n'  # NUL
        b'{"a": NaN}\n'  # not JSON
        b'{"a": 9}{"a": 10}\n'  # two objects on one line: pyarrow would make two rows of it
        b'{"a": 5'
    )  # truncated last line without newline
    result = job.parse_block("f", 0, block)
    assert result.records == 13 and result.blank == 2
    rows = sum(t.num_rows for t in result.tables)
    assert rows + len(result.bad) == result.records
    assert rows == 1
    reasons = [r["reason"].split(":")[0] for r in result.bad]
    assert (
        reasons.count("not_a_json_object") == 5 and "invalid_utf8" in reasons and "unconvertible" in reasons
    )
    assert any(
        r["raw_line"] == '{"a": 9}{"a": 10}' and r["reason"].startswith("invalid_json") for r in result.bad
    )
    utf8 = next(r for r in result.bad if r["reason"].startswith("invalid_utf8"))
    assert (
        utf8["raw_line_base64"]
        and utf8["source_file"] == "f"
        and utf8["offset"] == block.index(b'{"a": "\xff')
    )


# ------------------------------------------------------------------------------------------------ type rules


def test_resolve_widens_and_majority_wins():
    observations = [
        (("a",), pa.int64(), 10),
        (("a",), pa.float64(), 1),
        (("b",), pa.float64(), 9),
        (("b",), pa.string(), 2),
        (("c",), pa.null(), 5),
        (("d",), pa.struct([("x", pa.int64())]), 3),
        (("d", "x"), pa.int64(), 3),
        (("d",), pa.struct([("y", pa.string())]), 2),
        (("d", "y"), pa.string(), 2),
    ]
    resolution = job.resolve_schema(observations, ["a", "b", "c", "d"], None)
    assert resolution.schema.field("a").type == pa.float64()
    assert resolution.schema.field("b").type == pa.float64()
    assert resolution.schema.field("c").type == pa.string()  # all null -> string
    assert resolution.schema.field("d").type == pa.struct([("x", pa.int64()), ("y", pa.string())])
    assert resolution.conflicts == [
        {"field": "b", "values_by_type": {"number": 9, "string": 2}, "resolved_as": "number"}
    ]


def test_conform_converts_lossless_values_and_flags_the_rest():
    array = pa.array(["12.50", None, "abc", "7"])
    converted, bad = conform(array, pa.float64(), "amount")
    assert converted.to_pylist() == [12.5, None, None, 7.0]
    assert list(bad) == [2] and "amount" in bad[2]
    converted, bad = conform(pa.array([1.5, None]), pa.string(), "x")
    assert converted.to_pylist() == ["1.5", None] and not bad
    nested = pa.array([{"p": [{"q": "1"}, {"q": "z"}]}, {"p": [{"q": "2"}]}, None])
    target = pa.struct([("p", pa.list_(pa.struct([("q", pa.int64())])))])
    converted, bad = conform(nested, target, "n")
    assert (
        list(bad) == [0]
        and converted.to_pylist()[1] == {"p": [{"q": 2}]}
        and converted.to_pylist()[2] is None
    )


def test_count_blank_lines_matches_a_plain_split():
    import random

    rng = random.Random(7)
    pieces = [b"", b" ", b"\t", b"\r", b"{}", b'{"a": 1}', b" \r", b"x"]
    for _ in range(3000):
        block = b"\n".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        if rng.random() < 0.5:
            block += b"\n"
        lines = block.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        expected = sum(1 for line in lines if not line.strip(b" \t\r"))
        assert job.count_blank_lines(block) == expected, block


def test_parse_block_counts_lines_records_and_blanks_as_a_plain_split():
    # parse_block counts the lines once (newlines, and lines starting with `{`: when all do, no blank-line scan);
    # the accounting takes its `lines`, so it must be the line rule's count whatever the block holds.
    import random

    from glue_jobs.ndjson_to_parquet.accounting import count_lines

    rng = random.Random(11)
    pieces = [b"", b" ", b"\t", b"\r", b"{}", b'{"a": 1}', b' {"a": 2}', b'\t{"b": [1]}', b"null", b"x"]
    pieces += [b'{"a": {"b": 1.5}}'] * 4  # blocks of only object starts take the one-count path
    for _ in range(1500):
        block = b"\n".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        if rng.random() < 0.5:
            block += b"\n"
        lines = block.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        blank = sum(1 for line in lines if not line.strip(b" \t\r"))
        result = job.parse_block("u", 0, block)
        assert (result.lines, result.records, result.blank) == (count_lines(block), len(lines) - blank, blank)
        assert sum(t.num_rows for t in result.tables) + len(result.bad) == result.records, block


def test_the_object_start_search_agrees_with_the_object_start_count():
    # parse_block's one regex search stands for "object_starts == the block's lines" (then no blank-line scan).
    import random

    from glue_jobs.ndjson_to_parquet.accounting import count_lines
    from glue_jobs.ndjson_to_parquet.parse import every_line_an_object_start, object_starts

    rng = random.Random(13)
    pieces = [b"", b" ", b"{}", b'{"a": 1}', b' {"a": 2}', b"null", b"\r", b"[1]", b"{"]
    pieces += [b'{"a": {"b": 1.5}}'] * 6
    agreed = {True: 0, False: 0}
    for _ in range(3000):
        block = b"\n".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        if rng.random() < 0.5:
            block += b"\n"
        if not block:
            continue
        expected = object_starts(block) == count_lines(block)
        assert every_line_an_object_start(block) == expected, block
        agreed[expected] += 1
    assert min(agreed.values()) > 100  # both answers were exercised


def test_a_non_finite_double_at_any_depth_is_quarantined_and_its_neighbours_are_rows():
    # NaN / Infinity tokens are found after pyarrow's read (its non-finite doubles), in lists of structs too;
    # a string that only looks like one stays a row.
    good = [b'{"a": [{"b": 1.5}], "c": "x: NaN, [Infinity]"}', b'{"a": [{"b": 2.5}], "c": "y"}']
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        bad_line = b'{"a": [{"b": 1.0}, {"b": ' + token + b'}], "c": "z"}'
        result = job.parse_block("u", 0, b"\n".join([good[0], bad_line, good[1]]) + b"\n")
        rows = [row for table in result.tables for row in table.to_pylist()]
        assert [row["c"] for row in rows] == ["x: NaN, [Infinity]", "y"], token
        assert [bad["reason"].split(":")[0] for bad in result.bad] == ["invalid_json"], token


def test_a_wide_batch_resolves_in_first_appearance_order_with_one_spelling_per_name():
    # 6,000 top-level names (and a 3,000-field struct) over three pieces, some spelled twice: a dict keeps the
    # order of first appearance (the list membership test it replaces was quadratic in the width).
    names = [f"k{i:04d}" for i in range(6000)]
    inner = [f"f{i:04d}" for i in range(3000)]
    observations = [((name,), pa.int64(), 3) for name in names]
    observations += [((name.upper(),), pa.int64(), 1) for name in names[::1000]]  # a minority spelling
    observations += [(("nested",), pa.struct([(f, pa.string()) for f in inner]), 2)]
    observations += [(("nested", f), pa.string(), 2) for f in inner]
    observations += [(("NESTED", f.upper()), pa.string(), 1) for f in inner[:10]]
    top = [*names, *[name.upper() for name in names[::1000]], "nested", "NESTED"]
    resolution = resolve_schema(observations, top, None)
    assert resolution.schema.names == [*names, "nested"]
    assert resolution.schema.field("nested").type.names == inner
    assert resolution.case_variants["k0000"] == ["K0000", "k0000"]


def test_the_ratio_of_a_wide_piece_is_estimated_from_a_column_sample(tmp_path):
    from glue_jobs.ndjson_to_parquet.constants import SAMPLE_COLUMNS
    from glue_jobs.ndjson_to_parquet.parquet import RollingParquetWriter, estimate_ratio
    from glue_jobs.ndjson_to_parquet.storage import Storage

    rows = 3000
    columns = {}
    for i in range(1200):  # ints, repetitive strings, near-unique strings: ratios differ by column
        kind = i % 3
        if kind == 0:
            columns[f"n{i}"] = pa.array([(r * 7919 + i) % 1000 for r in range(rows)], pa.int64())
        elif kind == 1:
            columns[f"s{i}"] = pa.array([f"v{r % 5}" for r in range(rows)])
        else:
            columns[f"u{i}"] = pa.array([f"{i}-{r}-{r * r}" for r in range(rows)])
    table = pa.table(columns)
    # What the job's writer writes for the whole table, against the estimate of a 300-row piece of it.
    writer = RollingParquetWriter(Storage(), str(tmp_path), "p", table.schema, "zstd", 1 << 40, rows)
    writer.add(table)
    whole = writer.finish()[0].bytes / table.nbytes
    assert table.num_columns > SAMPLE_COLUMNS
    assert abs(estimate_ratio(table.slice(0, 300), "zstd") / whole - 1) < 0.15


def test_conform_explicit_numeric_and_date_targets():
    converted, bad = conform(pa.array([1.0, 1.5, 2**40, None]), pa.int32(), "n")
    assert converted.to_pylist() == [1, None, None, None] and sorted(bad) == [1, 2]
    stamps = strings_to_timestamps(pa.array(["2026-11-22T00:00:00Z", "2026-11-22T05:00:00Z", None]))
    converted, bad = conform(stamps, pa.date32(), "d")
    assert [str(v) if v else None for v in converted.to_pylist()] == ["2026-11-22", None, None]
    assert list(bad) == [1]


def test_fields_starting_with_underscores_are_kept_and_the_internal_name_is_reserved():
    result = job.parse_block("f", 0, b'{"__private": 1, "_x": 2}\n')
    assert result.tables[0].column_names == ["__private", "_x", job.LINE]
    with pytest.raises(JobError) as info:
        job.parse_block("f", 0, b'{"%s": 1}\n' % job.LINE.encode())
    assert info.value.error_name == "ReservedColumn"


def test_dictionaries_for_few_distinct_numbers_and_timestamps_too(tmp_path):
    """As DuckDB chooses: a column of few distinct values gets a dictionary whatever its type (strings, integers,
    floats, timestamps), near-unique ones and booleans are PLAIN; the values read back unchanged."""
    import datetime as dt

    import duckdb
    import pyarrow.parquet as pq

    from glue_jobs.ndjson_to_parquet.parquet import RollingParquetWriter, dictionary_columns
    from glue_jobs.ndjson_to_parquet.storage import Storage

    n = 20_000
    base = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    table = pa.table(
        {
            "height": pa.array([(720, 1080, 1440)[i % 3] for i in range(n)], pa.int64()),
            "seq": pa.array(range(n), pa.int64()),
            "price": pa.array([(9.99, 19.5)[i % 2] for i in range(n)], pa.float64()),
            "signup": pa.array(
                [base + dt.timedelta(days=i % 40) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "seen": pa.array(
                [base + dt.timedelta(microseconds=i) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "flag": pa.array([i % 2 == 0 for i in range(n)]),
            "amount": pa.array([round(i * 0.37 % 997, 2) if i % 5 else 1.0 for i in range(n)], pa.float64()),
            "later_int": pa.array([None] * (n - 10) + list(range(10)), pa.int64()),
            "later_text": pa.array([None] * (n - 10) + ["x"] * 10, pa.string()),
            "user": pa.array([{"tier": ("a", "b")[i % 2], "id": i} for i in range(n)]),
        }
    )
    chosen = dictionary_columns(table)
    assert sorted(chosen) == ["amount", "height", "later_text", "price", "signup", "user.tier"]
    assert "amount" not in dictionary_columns(table, ratio=0.5)  # ~0.8 distinct: only under the 0.9 default
    assert sorted(dictionary_columns(table, numbers=False)) == ["later_text", "user.tier"]  # strings only
    writer = RollingParquetWriter(Storage(), str(tmp_path), "p", table.schema, "zstd", 1 << 30, n)
    writer.add(table)
    [staged] = writer.finish()
    meta = pq.ParquetFile(staged.staged).metadata.row_group(0)
    dictionary = {
        meta.column(i).path_in_schema for i in range(meta.num_columns) if meta.column(i).has_dictionary_page
    }
    assert dictionary == set(chosen)
    assert pq.read_table(staged.staged).equals(table)
    duck = duckdb.sql(
        f"SELECT sum(height), sum(price), max(signup), count(DISTINCT seen) FROM '{staged.staged}'"
    )
    assert duck.fetchall()[0] == (
        sum((720, 1080, 1440)[i % 3] for i in range(n)),
        pytest.approx(sum((9.99, 19.5)[i % 2] for i in range(n))),
        base + dt.timedelta(days=39),
        n,
    )
