"""Benchmark: the Glue job (local[2]) vs DuckDB's COPY ... (FORMAT parquet) on the same NDJSON batch.

    .venv/bin/python bench/glue_vs_duckdb.py                 # ~1 GB, zstd
    .venv/bin/python bench/glue_vs_duckdb.py --size-mb 200   # quicker

The input is generated once with pipeline.embedded.sample_data (seeded) and cached under --work-dir (default work/bench,
outside git). Each engine runs in its own process (so peak RSS is its own: the whole process tree is sampled);
the job's time excludes the JVM start (reported separately). Results go to bench/results/glue_vs_duckdb.json|md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BYTES_PER_EVENT = 745  # measured average of pipeline.embedded.sample_data events
DAY = dt.date(2026, 11, 22)


def _write_one(args: tuple[str, int, int, bool]) -> dict:
    sys.path.insert(0, str(ROOT))
    from pipeline.embedded.sample_data import write_drop

    path, count, seed, drift = args
    stats = write_drop(Path(path), count, seed=seed, day=DAY, drift=drift)
    return {"path": path, "lines": stats.lines, "bytes": stats.bytes}


def generate(work: Path, size_mb: int, file_mb: int) -> dict:
    data_dir = work / f"input-{size_mb}mb"
    marker = data_dir / "_generated.json"
    if marker.exists():
        return json.loads(marker.read_text())
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    files = max(1, round(size_mb / file_mb))
    per_file = int(size_mb * 1024 * 1024 / files / BYTES_PER_EVENT)
    jobs = [
        (str(data_dir / f"events-{i:04d}.ndjson"), per_file, 1000 + i, i >= files // 2) for i in range(files)
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=2) as pool:
        written = list(pool.map(_write_one, jobs))
    manifest = {
        "manifest_id": f"bench-{size_mb}mb",
        "date_prefix": DAY.isoformat(),
        "created_at": "2026-11-22T05:00:00Z",
        "entries": [
            {"url": w["path"], "mandatory": True, "meta": {"content_length": w["bytes"]}} for w in written
        ],
    }
    (data_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    info = {
        "dir": str(data_dir),
        "manifest": str(data_dir / "manifest.json"),
        "files": len(written),
        "lines": sum(w["lines"] for w in written),
        "bytes": sum(w["bytes"] for w in written),
        "generated_in_s": round(time.monotonic() - started, 1),
    }
    marker.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------------------------------------- engines


def engine_duckdb(data_dir: str, out: str, codec: str) -> dict:
    import resource

    import duckdb

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(
        f"COPY (SELECT * FROM read_json('{data_dir}/*.ndjson', format='newline_delimited')) "
        f"TO '{out}/duckdb.parquet' (FORMAT parquet, COMPRESSION {codec})"
    )
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"seconds": seconds, "cpu_seconds": cpu}


def engine_glue(manifest: str, out: str, codec: str) -> dict:
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    from glue_jobs.ndjson_to_parquet import parse_job_args, run_job
    from pipeline.embedded.spark_session import local_spark_session

    spark = local_spark_session(app_name="bench", cores=2, driver_memory="2g")
    jvm_start = time.monotonic() - started
    # Warm the Python workers with the bundled sample (not timed).
    sample = ROOT / "glue_jobs" / "samples" / "manifest.json"
    run_job(
        spark,
        parse_job_args(
            [
                "--JOB_NAME",
                "warmup",
                "--MANIFEST_PATH",
                str(sample),
                "--OUTPUT_PATH",
                f"{out}/warmup",
                "--COMPRESSION_TYPE",
                codec,
            ]
        ),
    )
    args = parse_job_args(
        [
            "--JOB_NAME",
            "bench",
            "--MANIFEST_PATH",
            manifest,
            "--OUTPUT_PATH",
            f"{out}/glue",
            "--COMPRESSION_TYPE",
            codec,
        ]
    )
    import resource

    import psutil

    jvms = [p for p in psutil.Process().children(recursive=True) if "java" in p.name()]
    jvm_cpu = sum(sum(p.cpu_times()[:2]) for p in jvms)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    job_started = time.monotonic()
    report = run_job(spark, args)
    seconds = time.monotonic() - job_started
    after = resource.getrusage(resource.RUSAGE_SELF)
    driver_cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    jvm_cpu = sum(sum(p.cpu_times()[:2]) for p in jvms) - jvm_cpu
    timings = report["timings"]
    cpu = driver_cpu + jvm_cpu + timings["parse_task_cpu"] + timings.get("write_task_cpu", 0)
    spark.stop()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "jvm_start_s": jvm_start,
        "records_out": report["records_out"],
        "bad_records": report["bad_records"],
        "output_files": len(report["output_files"]),
        "stages": report["timings"],
    }


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run_engine(name: str, argv: list[str]) -> dict:
    """Run one engine in a child process, sampling the RSS of its whole process tree."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--engine", name, *argv], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak / 1024 / 1024)
    return result


def dir_bytes(path: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in path.glob(pattern) if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--file-mb", type=int, default=64, help="size of each generated input file")
    parser.add_argument("--codec", default="zstd")
    parser.add_argument("--work-dir", default=str(ROOT / "work" / "bench"))
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine (medians reported)")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("engine_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # child process
        function = {"duckdb": engine_duckdb, "glue": engine_glue}[args.engine]
        print(json.dumps(function(*args.engine_args)))
        return

    work = Path(args.work_dir)
    data = generate(work, args.size_mb, args.file_mb)
    size_mb = data["bytes"] / 1024 / 1024
    print(f"input: {data['files']} files, {data['lines']} lines, {size_mb:.0f} MiB in {data['dir']}")
    runs: dict[str, list[dict]] = {"duckdb": [], "glue": []}
    for _ in range(args.repeat):
        for engine in ("duckdb", "glue"):
            out = work / f"out-{engine}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            argv = (
                [data["dir"], str(out), args.codec]
                if engine == "duckdb"
                else [data["manifest"], str(out), args.codec]
            )
            load_before = os.getloadavg()[0]
            result = run_engine(engine, argv)
            result["load_avg_1m_before"] = round(load_before, 2)
            pattern = "duckdb.parquet" if engine == "duckdb" else "glue/dt=*/*.parquet"
            result["output_bytes"] = dir_bytes(out, pattern)
            runs[engine].append(result)
            print(
                f"  {engine}: {result['seconds']:.2f} s, CPU {result['cpu_seconds']:.1f} s, peak RSS {result['peak_rss_mb']} MB, "
                f"output {result['output_bytes'] / 1024 / 1024:.1f} MiB, load {load_before:.1f}"
                + (f", stages {result['stages']}" if "stages" in result else "")
            )

    def median(engine: str, key: str) -> float:
        values = sorted(r[key] for r in runs[engine])
        return values[len(values) // 2]

    summary = {
        "engine": {},
        "input": {"files": data["files"], "lines": data["lines"], "bytes": data["bytes"]},
        "codec": args.codec,
        "cores": 2,
        "repeat": args.repeat,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    for engine in runs:
        seconds = median(engine, "seconds")
        summary["engine"][engine] = {
            "seconds": round(seconds, 2),
            "mb_per_s": round(size_mb / seconds, 1),
            "cpu_seconds": round(median(engine, "cpu_seconds"), 1),
            "output_mb": round(median(engine, "output_bytes") / 1024 / 1024, 1),
            "peak_rss_mb": median(engine, "peak_rss_mb"),
            "runs": runs[engine],
        }
    glue, duck = summary["engine"]["glue"], summary["engine"]["duckdb"]
    summary["ratio"] = {
        "time_glue_over_duckdb": round(glue["seconds"] / duck["seconds"], 2),
        "cpu_glue_over_duckdb": round(glue["cpu_seconds"] / duck["cpu_seconds"], 2),
        "size_glue_over_duckdb": round(glue["output_mb"] / duck["output_mb"], 3),
    }
    if "jvm_start_s" in runs["glue"][0]:
        glue["jvm_start_s"] = round(median("glue", "jvm_start_s"), 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.size_mb == 1024 else f"_{args.size_mb}mb"
    (RESULTS / f"glue_vs_duckdb{suffix}.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        f"# Glue job (local[2]) vs DuckDB COPY, {size_mb:.0f} MiB NDJSON, {args.codec}",
        "",
        f"Input: {data['files']} files, {data['lines']} events (nested objects, arrays, nullable fields, "
        "ISO-8601 timestamps; half the files with schema drift). Measured "
        f"{summary['measured_at']}, {os.cpu_count()} CPUs, median of {args.repeat}.",
        "",
        "| engine | seconds | MB/s | CPU seconds | output MiB | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, label in (
        ("duckdb", "DuckDB COPY (2 threads)"),
        ("glue", "Glue job, local[2] (JVM start excluded)"),
    ):
        e = summary["engine"][engine]
        lines.append(
            f"| {label} | {e['seconds']} | {e['mb_per_s']} | {e['cpu_seconds']} | {e['output_mb']} | "
            f"{e['peak_rss_mb']} |"
        )
    lines += [
        "",
        f"Ratio: time {summary['ratio']['time_glue_over_duckdb']}x, CPU "
        f"{summary['ratio']['cpu_glue_over_duckdb']}x, output size "
        f"{summary['ratio']['size_glue_over_duckdb']}x. JVM start (not in the job time): "
        f"{glue.get('jvm_start_s')} s. Job stages (s, last run): {runs['glue'][-1].get('stages')}.",
        "",
        "1-minute load average before each run (other processes share the 2 CPUs): "
        + ", ".join(f"{e} {r['load_avg_1m_before']}" for e in runs for r in runs[e])
        + ".",
        "",
    ]
    (RESULTS / f"glue_vs_duckdb{suffix}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
