"""Benchmark: wide records (1,000- and 5,000-key objects) against narrow events, per byte, through the Glue job.

    .venv/bin/python bench/wide_records.py                  # 50 MB narrow, 50 MB of 1,000-key, 20 MB of 5,000-key
    .venv/bin/python bench/wide_records.py --size-mb 0.2    # scale every case (0.2 = a fifth of the above)
    .venv/bin/python bench/wide_records.py --label before   # the key under which the run is kept in the results

The inputs are generated once (seeded, byte for byte the same) under --work-dir (default work/bench/wide, outside
git): narrow events from pipeline.embedded.sample_data, and flat objects of 1,000 / 5,000 keys (each drawn from twice
as many names) whose values cycle through integers, low-cardinality strings, floats, near-unique strings, booleans and nulls. The job runs in this
process on one local SparkSession (local[2], warmed up first with the bundled sample, not timed). Reported per case:
the whole run_job time, the job's own stage timings (report `timings`) and seconds per MB of input. The issue's
bound: a batch of wide objects costs per byte at most 2x a batch of narrow objects. Results are merged into
bench/results/wide_records.json (one entry per --label) and wide_records.md is rewritten from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DAY = dt.date(2026, 11, 22)
CASES = {"narrow": (0, 50.0), "keys_1000": (1000, 50.0), "keys_5000": (5000, 20.0)}  # keys, MB at --size-mb 1
BYTES_PER_EVENT = 745  # measured average of pipeline.embedded.sample_data events
BOUND = 2.0  # the bound: wide costs per byte at most this times narrow


def wide_record(rng: random.Random, index: int, keys: int) -> dict[str, Any]:
    """A flat object of `keys` keys drawn from 2 * `keys` names (optional attributes: the batch has about
    2 * `keys` columns and every piece lacks some); the value kind cycles with the key, so a column has one type."""
    record: dict[str, Any] = {"id": f"r{index:08d}"}
    for key in sorted(rng.sample(range(2 * keys), keys)):
        kind = key % 6
        value: Any
        if kind == 0:
            value = rng.randint(-(10**9), 10**9)
        elif kind == 1:
            value = f"level-{rng.randint(0, 4)}"
        elif kind == 2:
            value = round(rng.uniform(-1e6, 1e6), 3)
        elif kind == 3:
            value = f"{index:x}-{key}-{rng.getrandbits(32):08x}"
        elif kind == 4:
            value = rng.random() < 0.5
        else:
            value = None if rng.random() < 0.3 else rng.randint(0, 100)
        record[f"k{key:05d}"] = value
    return record


def generate(work: Path, case: str, keys: int, megabytes: float) -> dict[str, Any]:
    data_dir = work / f"{case}-{megabytes:g}mb"
    marker = data_dir / "_generated.json"
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    path = data_dir / f"{case}.ndjson"
    target = int(megabytes * 1024 * 1024)
    started = time.monotonic()
    if keys == 0:
        from pipeline.embedded.sample_data import write_drop

        stats = write_drop(path, max(1, target // BYTES_PER_EVENT), seed=12, day=DAY)
        lines, size = stats.lines, stats.bytes
    else:
        import orjson

        rng = random.Random(keys)
        lines = size = 0
        with open(path, "wb") as out:
            while size < target or lines == 0:
                line = orjson.dumps(wide_record(rng, lines, keys)) + b"\n"
                out.write(line)
                lines += 1
                size += len(line)
    manifest = {
        "manifest_id": f"wide-{case}",
        "date_prefix": DAY.isoformat(),
        "created_at": "2026-11-22T05:00:00Z",
        "entries": [{"url": str(path), "mandatory": True, "meta": {"content_length": size}}],
    }
    (data_dir / "manifest.json").write_text(json.dumps(manifest))
    info = {
        "manifest": str(data_dir / "manifest.json"),
        "lines": lines,
        "bytes": size,
        "generated_in_s": round(time.monotonic() - started, 1),
    }
    marker.write_text(json.dumps(info))
    return info


def _argv(name: str, manifest: str | Path, out: str) -> list[str]:
    return [
        "--JOB_NAME",
        name,
        "--MANIFEST_PATH",
        str(manifest),
        "--OUTPUT_PATH",
        out,
        "--COMPRESSION_TYPE",
        "zstd",
    ]


def run_cases(work: Path, scale: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from glue_jobs.ndjson_to_parquet import parse_job_args, run_job
    from pipeline.embedded.spark_session import local_spark_session

    inputs = {
        case: generate(work, case, keys, megabytes * scale) for case, (keys, megabytes) in CASES.items()
    }
    spark = local_spark_session(app_name="bench-wide", cores=2, driver_memory="2g")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    try:
        run_job(
            spark, parse_job_args(_argv("warmup", ROOT / "glue_jobs/samples/manifest.json", f"{out}/warmup"))
        )
        cases: dict[str, Any] = {}
        for case, info in inputs.items():
            load_before = os.getloadavg()
            started = time.monotonic()
            report = run_job(spark, parse_job_args(_argv(case, info["manifest"], f"{out}/{case}")))
            seconds = time.monotonic() - started
            mb = info["bytes"] / 1024 / 1024
            timings = report["timings"]
            cases[case] = {
                "keys": CASES[case][0],
                "mb": round(mb, 2),
                "lines": info["lines"],
                "records_out": report["records_out"],
                "bad_records": report["bad_records"],
                "output_files": len(report["output_files"]),
                "seconds": round(seconds, 2),
                "s_per_mb": round(seconds / mb, 4),
                "write_s_per_mb": round(timings.get("write", 0.0) / mb, 4),
                "timings": timings,
                "load_before": [round(x, 2) for x in load_before],
            }
            print(case, json.dumps(cases[case]), flush=True)
    finally:
        spark.stop()
        shutil.rmtree(out, ignore_errors=True)
    narrow = cases["narrow"]["s_per_mb"]
    for case in cases.values():
        case["x_narrow_per_byte"] = round(case["s_per_mb"] / narrow, 2)
    return cases


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_markdown(results: dict[str, Any]) -> None:
    lines = [
        "# Wide records: per-byte cost of 1,000- and 5,000-key objects vs narrow events",
        "",
        "Generated by `bench/wide_records.py` (the job in process, local[2], zstd, after a warm-up run). "
        f"The bound of issue 12: a wide batch costs per byte at most {BOUND:g}x a narrow batch "
        "(`x narrow` column). `write` is the job's write stage (wall), `write cpu` the write tasks' CPU.",
        "",
    ]
    for label, run in results.items():
        lines += [
            f"## {label}",
            "",
            f"commit {run['commit']}, {run['date']}, {run['machine']}, --size-mb {run['scale']:g}, "
            f"load average before/after the run: {run['load_before']} / {run['load_after']}",
            "",
            "| case | MB | lines | seconds | s/MB | x narrow | parse | resolve | write | write cpu | write s/MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for case, row in run["cases"].items():
            timings = row["timings"]
            lines.append(
                f"| {case} | {row['mb']} | {row['lines']} | {row['seconds']} | {row['s_per_mb']} | "
                f"{row['x_narrow_per_byte']} | {timings.get('parse')} | {timings.get('resolve')} | "
                f"{timings.get('write')} | {timings.get('write_task_cpu')} | {row['write_s_per_mb']} |"
            )
        if run.get("notes"):
            lines += ["", run["notes"]]
        lines.append("")
    (RESULTS / "wide_records.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1.0, help="scale of every case (1 = 50/50/20 MB)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "work" / "bench" / "wide")
    parser.add_argument(
        "--label", default="after", help="key of this run in the results (before, after, ...)"
    )
    parser.add_argument("--notes", default="", help="a sentence kept with the run in the results")
    options = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    cases = run_cases(options.work_dir, options.size_mb)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "wide_records.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[options.label] = {
        "commit": _commit(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "scale": options.size_mb,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "notes": options.notes,
        "cases": cases,
    }
    path.write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results)
    print(f"wrote {path} and wide_records.md")


if __name__ == "__main__":
    main()
