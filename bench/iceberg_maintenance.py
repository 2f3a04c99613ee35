"""Benchmark: maintenance of one date of 1,000 small files (moto Glue + S3): compaction, expiry, orphan removal.

    .venv/bin/python bench/iceberg_maintenance.py [--files 1000] [--rows-per-file 200] [--per-commit 20]

One process: a moto server (Glue Data Catalog + S3) and a table like the job's. The date gets --files small
Parquet files (pyarrow, zstd, no field ids, as the Spark tasks write them), committed --per-commit files at a time
(`add_files`, as the job's commits). Then `maintenance.compact` rewrites them into files of about 128 MiB in one
commit (files and bytes before/after, rows checked equal by value, seconds), `expire` drops every snapshot but the
current one and `remove_orphans` deletes the files no kept snapshot references (the 1,000 small files and the old
manifests). A full scan of the date is timed before and after. Results: bench/results/iceberg_maintenance.json/.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from iceberg_support import LOCATION, job_args, moto_stack, run_header, save

DATE = "2026-11-30"
DATA = pa.schema(
    [
        pa.field("event_id", pa.string()),
        pa.field("user_id", pa.int64()),
        pa.field("kind", pa.string()),
        pa.field("amount", pa.float64()),
        pa.field("at", pa.timestamp("us", tz="UTC")),
    ]
)
KINDS = ["view", "click", "purchase", "refund", "signup"]


def small_file(storage: Any, index: int, rows: int) -> str:
    from glue_jobs.ndjson_to_parquet.iceberg import file_schema

    start = index * rows
    base = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    table = pa.table(
        {
            "event_id": [
                hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()
                for i in range(start, start + rows)
            ],
            "user_id": [i % 997 for i in range(start, start + rows)],
            "kind": [KINDS[i % 5] for i in range(start, start + rows)],
            "amount": [round((i % 1000) * 0.37, 2) for i in range(start, start + rows)],
            "at": [base + dt.timedelta(seconds=i) for i in range(start, start + rows)],
            "_source_file": [f"s3://in/drop-{index}.ndjson"] * rows,
            "_manifest_id": [f"m-{index:05d}"] * rows,
            "_ingested_at": [base] * rows,
            "dt": [DATE] * rows,
        },
        schema=file_schema(DATA),
    )
    path = f"{LOCATION}/data/dt={DATE}/m-{index:05d}.bench.part-0-000.parquet"
    filesystem, fs_path = storage.fs(path)
    with filesystem.open_output_stream(fs_path) as sink:
        pq.write_table(table, sink, compression="zstd")
    return path


def fingerprint(table: Any) -> tuple[int, str]:
    """Rows and an order-independent digest of their values (the multiset of rows)."""
    rows = table.refresh().scan().to_arrow()
    names = [f.name for f in DATA] + ["_source_file", "_manifest_id", "_ingested_at", "dt"]
    ordered = rows.select(names).sort_by([("event_id", "ascending"), ("_manifest_id", "ascending")])
    digest = hashlib.sha256()
    for batch in ordered.to_batches():
        for column in batch.columns:
            digest.update("\x1f".join(str(v) for v in pc.cast(column, pa.string()).to_pylist()).encode())
    return rows.num_rows, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rows-per-file", type=int, default=200)
    parser.add_argument("--per-commit", type=int, default=20)
    parser.add_argument("--target-mb", type=int, default=128)
    options = parser.parse_args()
    header = run_header()
    with moto_stack():
        from glue_jobs.ndjson_to_parquet import maintenance
        from glue_jobs.ndjson_to_parquet.iceberg import SUMMARY_MANIFEST, TableRef, create_table, open_catalog
        from glue_jobs.ndjson_to_parquet.storage import Storage

        storage = Storage.from_env()
        ref = TableRef.of(job_args())
        table = create_table(open_catalog(ref), ref, DATA)
        started = time.perf_counter()
        for first in range(0, options.files, options.per_commit):
            paths = [
                small_file(storage, i, options.rows_per_file)
                for i in range(first, min(options.files, first + options.per_commit))
            ]
            table.add_files(
                paths, snapshot_properties={SUMMARY_MANIFEST: f"m-{first:05d}"}, check_duplicate_files=False
            )
        load_seconds = time.perf_counter() - started

        started = time.perf_counter()
        rows_before, digest_before = fingerprint(table)
        scan_before = time.perf_counter() - started

        result = maintenance.compact(table, storage, DATE, options.target_mb * 1024 * 1024, "zstd")
        day = result.partitions[DATE]

        started = time.perf_counter()
        rows_after, digest_after = fingerprint(table)
        scan_after = time.perf_counter() - started
        assert (rows_after, digest_after) == (rows_before, digest_before), "rows differ after compaction"

        now = dt.datetime.now(dt.UTC)
        expiry = maintenance.expire(table, now + dt.timedelta(seconds=1))
        orphans = maintenance.remove_orphans(table, storage, now + dt.timedelta(hours=1))
        assert fingerprint(table) == (rows_before, digest_before), "rows differ after expiry + orphan removal"
    outcome = {
        **header,
        "files": options.files,
        "rows_per_file": options.rows_per_file,
        "per_commit": options.per_commit,
        "target_mb": options.target_mb,
        "load_seconds": round(load_seconds, 1),
        "partition": {
            "date": DATE,
            "files_before": day.files_before,
            "bytes_before": day.bytes_before,
            "files_after": day.files_after,
            "bytes_after": day.bytes_after,
            "rows": rows_after,
            "rows_equal_by_value": digest_after == digest_before,
        },
        "compaction_seconds": result.seconds,
        "scan_seconds_before": round(scan_before, 2),
        "scan_seconds_after": round(scan_after, 2),
        "expiry": {
            "snapshots_before": expiry.snapshots_before,
            "expired": expiry.snapshots_expired,
            "seconds": expiry.seconds,
        },
        "orphans": {
            "listed": orphans.files_listed,
            "removed": orphans.orphans_removed,
            "bytes_removed": orphans.bytes_removed,
            "seconds": orphans.seconds,
        },
    }
    print(outcome, flush=True)
    p = outcome["partition"]
    markdown = [
        "# Iceberg maintenance: one date of 1,000 small files",
        "",
        f"Generated by `bench/iceberg_maintenance.py`: commit {outcome['commit']}, {outcome['date']}, "
        f"{outcome['machine']}, pyiceberg {outcome['pyiceberg']}, moto server in process (Glue Data Catalog + S3). "
        f"{options.files} files of {options.rows_per_file} rows (zstd), committed {options.per_commit} per commit "
        f"({outcome['load_seconds']} s to load), compacted to a {options.target_mb} MiB target in ONE commit.",
        "",
        "| date | files before | bytes before | files after | bytes after | rows | rows equal by value | compaction s "
        "| scan s before | scan s after |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        f"| {p['date']} | {p['files_before']} | {p['bytes_before']:,} | {p['files_after']} | {p['bytes_after']:,} | "
        f"{p['rows']:,} | {p['rows_equal_by_value']} | {outcome['compaction_seconds']} | "
        f"{outcome['scan_seconds_before']} | {outcome['scan_seconds_after']} |",
        "",
        f"Then: expiry of {expiry.snapshots_expired} of {expiry.snapshots_before} snapshots ({expiry.seconds} s); "
        f"orphan removal listed {orphans.files_listed} files and removed {orphans.orphans_removed} "
        f"({orphans.bytes_removed:,} bytes: the {options.files} small files, old manifests, manifest lists and "
        f"metadata files no kept snapshot references) in {orphans.seconds} s; the rows were checked equal by value "
        "again afterwards. Timings are moto's and this machine's (2 shared cores), not S3's.",
    ]
    save("iceberg_maintenance", outcome, markdown)


if __name__ == "__main__":
    main()
