"""Helpers for the Glue job tests: real files in tmp_path, the job run on the shared SparkSession."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from glue_jobs.ndjson_to_parquet import parse_job_args, run_job


def write_manifest(
    directory: Path,
    files: list[Path | str],
    manifest_id: str = "m-0001",
    date_prefix: str = "2026-11-22",
    optional: tuple[str, ...] = (),
) -> Path:
    entries = []
    for file in files:
        url = str(file)
        entries.append(
            {
                "url": url,
                "mandatory": Path(url).name not in optional,
                "meta": {"content_length": Path(url).stat().st_size if Path(url).exists() else 0},
            }
        )
    path = directory / f"{manifest_id}.json"
    path.write_text(
        json.dumps(
            {
                "manifest_id": manifest_id,
                "date_prefix": date_prefix,
                "created_at": "2026-11-22T05:00:00Z",
                "entries": entries,
            }
        )
    )
    return path


def job_argv(manifest: Path, out: Path, codec: str = "zstd", **options: object) -> list[str]:
    argv = [
        "--JOB_NAME",
        "test",
        "--MANIFEST_PATH",
        str(manifest),
        "--OUTPUT_PATH",
        str(out),
        "--COMPRESSION_TYPE",
        codec,
    ]
    for name, value in options.items():
        argv += [f"--{name}", str(value)]
    return argv


def run(spark, manifest: Path, out: Path, codec: str = "zstd", **options: object) -> dict:
    return run_job(spark, parse_job_args(job_argv(manifest, out, codec, **options)))


def parquet_files(out: Path, date_prefix: str = "2026-11-22") -> list[Path]:
    return sorted((out / f"dt={date_prefix}").glob("*.parquet"))


def query(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def quarantine_records(out: Path, manifest_id: str = "m-0001", date_prefix: str = "2026-11-22") -> list[dict]:
    directory = out / "_bad_records" / f"dt={date_prefix}" / f"manifest_id={manifest_id}"
    records = []
    for file in sorted(directory.glob("*.ndjson")):
        records += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]
    return records


def convert_corpus(spark, directory: Path, texts: list[list[str]], **options: object) -> dict:
    """Write each list of lines as one file of a manifest, run the job, read every Parquet row back (pyarrow):
    `out`, `report`, `table` and `rows` keyed by each record's `case_id` field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for number, lines in enumerate(texts):
        file = directory / f"part-{number}.ndjson"
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(file)
    out = directory / "out"
    report = run(spark, write_manifest(directory, files), out, **options)
    table = pa.concat_tables([pq.read_table(f) for f in parquet_files(out)])
    return {
        "out": out,
        "report": report,
        "table": table,
        "rows": {r["case_id"]: r for r in table.to_pylist()},
    }
