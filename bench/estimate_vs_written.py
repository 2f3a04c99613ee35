"""Benchmark (issue 17, 'Wide records, third pass'): the write plan's Parquet estimate against the bytes written.

    taskset -c 1 .venv/bin/python bench/estimate_vs_written.py [--cases narrow,keys_1000,keys_5000] [--name NAME]

Runs the whole job (`run_job`) in this process without Spark: a serial stand-in for the SparkContext runs the
task bodies (`read_task`, `write_task`) one after the other, so that the estimate each read task measures
(`estimate_ratio`, timed here: its CPU per call) and the plan built from it (`group_pieces`: files, rows per
group) can be compared with what the writer wrote: the estimate (sum of the pieces' Arrow bytes x ratio) against
the Parquet bytes, the file count and the bytes against DuckDB's for the same input (--duckdb-bytes, measured
once: `COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet, COMPRESSION zstd)`).

Inputs (the bench's generated data, bench/convert_vs_duckdb.py at scale 1): --data-dir, default /work/benchdata.
Results: bench/results/<--name>.json|md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from glue_jobs.ndjson_to_parquet import parse_job_args, run_job  # noqa: E402
from glue_jobs.ndjson_to_parquet import tasks as job_tasks  # noqa: E402
from glue_jobs.ndjson_to_parquet.tasks import ReadResult  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CASES = {
    "narrow": "input-1024mb",
    "keys_1000": "wide/keys_1000-1024mb",
    "keys_5000": "wide/keys_5000-200mb",
}
# DuckDB's bytes for the same inputs (zstd), measured with the COPY above on this machine (DuckDB 2.0.1).
DUCKDB_BYTES: dict[str, int] = {"narrow": 70_184_578, "keys_1000": 201_229_911, "keys_5000": 42_048_480}


class _Serial:
    """The part of a SparkContext run_tasks uses: the tasks run here, one after the other."""

    defaultParallelism = 2

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def setJobDescription(self, _text: str | None) -> None:
        pass

    def parallelize(self, items: Iterable[Any], _slices: int) -> _Serial._Mapped:
        return _Serial._Mapped(list(items), self.seen)

    class _Mapped:
        def __init__(self, items: list[Any], seen: list[Any]) -> None:
            self.items, self.seen = items, seen

        def map(self, function: Callable[[Any], Any]) -> _Serial._Mapped:
            self.function = function
            return self

        def collect(self) -> list[Any]:
            results = [self.function(item) for item in self.items]
            self.seen.extend(results)
            return results


class _Session:
    def __init__(self, seen: list[Any]) -> None:
        self.sparkContext = _Serial(seen)


def _manifest(data_dir: Path, case: str, work: Path) -> Path:
    folder = data_dir / CASES[case]
    existing = folder / "manifest.json"
    if existing.exists():
        return existing
    files = sorted(folder.glob("*.ndjson"))
    manifest = {
        "manifest_id": f"estimate-{case}",
        "date_prefix": "2026-11-22",
        "created_at": "2026-11-22T05:00:00Z",
        "entries": [{"url": str(f), "mandatory": True} for f in files],
    }
    path = work / f"manifest-{case}.json"
    path.write_text(json.dumps(manifest))
    return path


def measure(case: str, data_dir: Path, work: Path) -> dict[str, Any]:
    seen: list[Any] = []
    estimate_cpu: list[float] = []
    original = job_tasks.estimate_ratio

    def timed(*args: Any, **kwargs: Any) -> float:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            estimate_cpu.append(time.process_time() - started)

    out = work / f"out-{case}"
    shutil.rmtree(out, ignore_errors=True)
    argv = ["--JOB_NAME", "estimate", "--MANIFEST_PATH", str(_manifest(data_dir, case, work))]
    argv += ["--OUTPUT_PATH", str(out), "--COMPRESSION_TYPE", "zstd"]
    job_tasks.estimate_ratio = timed  # type: ignore[assignment]
    try:
        report = run_job(_Session(seen), parse_job_args(argv))
    finally:
        job_tasks.estimate_ratio = original  # type: ignore[assignment]
    reads = [r for r in seen if isinstance(r, ReadResult)]
    writes = [r for r in seen if isinstance(r, job_tasks.WriteResult)]
    ratios = [r.ratio or 0.1 for r in reads]
    estimate = sum(p.arrow_bytes * (r.ratio or 0.1) for r in reads for p in r.pieces)
    files = sorted(out.rglob("*.parquet"))
    written = sum(f.stat().st_size for f in files)
    row_groups = [pq.ParquetFile(f).metadata.num_row_groups for f in files]
    result: dict[str, Any] = {
        "input_mb": round(report["bytes_in"] / 1024 / 1024, 1),
        "rows": report["records_out"],
        "arrow_bytes": sum(p.arrow_bytes for r in reads for p in r.pieces),
        "read_tasks": len(reads),
        "ratios": [round(x, 5) for x in ratios],
        "estimate_bytes": round(estimate),
        "written_bytes": written,
        "estimate_over_written": round(estimate / written, 4),
        "files": len(files),
        "file_bytes": [f.stat().st_size for f in files],
        "row_groups": row_groups,
        "estimate_cpu_s": [round(x, 4) for x in estimate_cpu],
        "estimate_cpu_total_s": round(sum(estimate_cpu), 3),
        "read_task_cpu_s": round(sum(r.cpu_seconds for r in reads), 2),
        "write_task_cpu_s": round(sum(w.cpu_seconds for w in writes), 2),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default="narrow,keys_1000,keys_5000")
    parser.add_argument("--data-dir", default="/work/benchdata")
    parser.add_argument("--work-dir", default=None, help="where the output goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the output files (with --work-dir)")
    parser.add_argument("--name", default="estimate_vs_written")
    parser.add_argument("--render", action="store_true", help="only rewrite NAME.md from NAME.json")
    args = parser.parse_args()
    if args.render:
        render(args.name)
        return
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="estimate-"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"measured_at": "", "cases": {}}
    for case in args.cases.split(","):
        summary["cases"][case] = measure(case, Path(args.data_dir), work)
        print(case, json.dumps(summary["cases"][case]), flush=True)
        if not args.keep:
            shutil.rmtree(work / f"out-{case}", ignore_errors=True)
    summary["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    render(args.name)


def render(name: str) -> None:
    """bench/results/NAME.md from NAME.json (bytes / DuckDB from DUCKDB_BYTES)."""
    summary = json.loads((RESULTS / f"{name}.json").read_text())
    lines = [
        f"# Write-plan estimate against the bytes written ({name})",
        "",
        f"Measured {summary['measured_at']} with `bench/estimate_vs_written.py` (the job in one process, task "
        "bodies serial, zstd, default TARGET_FILE_MB). DuckDB's bytes: the same input, `COPY ... (FORMAT parquet, "
        "COMPRESSION zstd)`, DuckDB 2.0.1.",
        "",
        "| case | rows | estimate B | written B | estimate / written | files | row groups | estimate CPU s "
        "(calls) | DuckDB B | bytes / DuckDB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for case, r in summary["cases"].items():
        duck = DUCKDB_BYTES.get(case)
        lines.append(
            f"| {case} | {r['rows']:,} | {r['estimate_bytes']:,} | {r['written_bytes']:,} | "
            f"{r['estimate_over_written']} | {r['files']} | {r['row_groups']} | {r['estimate_cpu_total_s']} "
            f"({len(r['estimate_cpu_s'])}) | {f'{duck:,}' if duck else ''} | "
            f"{round(r['written_bytes'] / duck, 4) if duck else ''} |"
        )
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
