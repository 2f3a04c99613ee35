"""Benchmark (issue 17, "Measure"): the job as a whole process vs DuckDB COPY, alternating, in the same run.

    .venv/bin/python bench/convert_vs_duckdb.py                        # the issue's sizes: 1 GB, 1 GB, 200 MB, 5 GB
    .venv/bin/python bench/convert_vs_duckdb.py --scale 0.1 --runs 3   # every size times 0.1
    .venv/bin/python bench/convert_vs_duckdb.py --profile --scale 0.1  # per-function profile of the job's tasks

Cases: `narrow` (nested events from pipeline.embedded.sample_data, 20 files), `keys_1000` and `keys_5000` (flat
objects from bench/wide_records.py) and `narrow_5x` (the narrow events at 5x the size: the memory curve). Inputs
are generated once (seeded) and cached under --work-dir (default work/bench, outside git).

For each run of each case, DuckDB (`COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet, COMPRESSION
zstd)`, 2 threads, in its own `python` process) and the job (`python glue_jobs/run_ndjson_to_parquet.py ...`, a
whole process: interpreter, JVM and session start included) run one after the other, alternating which goes
first. Reported per engine: the whole-process wall time, the job's own time (its report's `seconds`), CPU seconds
of the whole process tree (user + system, the JVM and Python workers included: each process's last sample), the
peak RSS of the process tree (sampled every 0.1 s), the output bytes and the 1-minute load average before the
run. Medians over --runs. Results: bench/results/convert_vs_duckdb.json|md (the scale-1 reference), or
bench/results/<--name>.json|md.

--profile runs the job in this process on a local[2] session with `spark.python.profile` (PySpark's cProfile of
every RDD task, summed per stage) and writes bench/results/convert_profile.json|md: the top functions of the
parse stage and of the write stage on the narrow and the 1,000-key case. No job code is changed for it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import glue_vs_duckdb, wide_records  # noqa: E402

RESULTS = ROOT / "bench" / "results"
JOB_SCRIPT = ROOT / "glue_jobs" / "run_ndjson_to_parquet.py"
# case -> (keys per object, 0 = narrow events; MB at --scale 1), the sizes
CASES: dict[str, tuple[int, float]] = {
    "narrow": (0, 1024.0),
    "keys_1000": (1000, 1024.0),
    "keys_5000": (5000, 200.0),
    "narrow_5x": (0, 5120.0),
}
NARROW_FILES = 20
BOUNDS = {"whole_process": 1.3, "job_time": 1.0, "bytes": 1.0, "width_per_byte": 2.0, "rss_5x_over_1x": 1.2}


def generate(work: Path, case: str, scale: float) -> dict[str, Any]:
    keys, megabytes = CASES[case]
    size = max(1.0, megabytes * scale)
    if keys == 0:
        size_mb = max(1, round(size))
        info = glue_vs_duckdb.generate(work, size_mb, max(1, round(size_mb / NARROW_FILES)))
        return {
            "dir": info["dir"],
            "manifest": info["manifest"],
            "lines": info["lines"],
            "bytes": info["bytes"],
        }
    info = wide_records.generate(work / "wide", case, keys, round(size, 1))
    return {
        "dir": str(Path(info["manifest"]).parent),
        "manifest": info["manifest"],
        "lines": info["lines"],
        "bytes": info["bytes"],
    }


# ---------------------------------------------------------------------------------------------------- processes


def duckdb_child(data_dir: str, out: str, codec: str) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(
        f"COPY (SELECT * FROM read_json_auto('{data_dir}/*.ndjson')) "
        f"TO '{out}/duckdb.parquet' (FORMAT parquet, COMPRESSION {codec})"
    )


class TreeSampler:
    """Peak RSS of a process tree and the CPU seconds of every process in it (each one's last sample)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        rss = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                rss += proc.memory_info().rss
                times = proc.cpu_times()
                self.cpu[proc.pid] = times.user + times.system + times.children_user + times.children_system
        self.peak = max(self.peak, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.1)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_process(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    load = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    with TreeSampler(proc.pid) as sampler:
        out, err = proc.communicate()
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {err[-2000:]}")
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(sum(sampler.cpu.values()), 1),
        "peak_rss_mb": round(sampler.peak / 1024 / 1024),
        "load_avg_1m_before": round(load, 2),
        "stdout": out,
    }


def run_duckdb(data: dict[str, Any], out: Path, codec: str) -> dict[str, Any]:
    result = run_process([sys.executable, __file__, "--duckdb-child", data["dir"], str(out), codec])
    result.pop("stdout")
    result["output_bytes"] = (out / "duckdb.parquet").stat().st_size
    return result


def run_job(data: dict[str, Any], out: Path, codec: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, str(JOB_SCRIPT), "--JOB_NAME", "bench", "--MANIFEST_PATH", data["manifest"]]
    argv += ["--OUTPUT_PATH", str(out / "job"), "--COMPRESSION_TYPE", codec]
    result = run_process(argv, env)
    report = json.loads(result.pop("stdout").strip().splitlines()[-1])
    result["job_seconds"] = report["seconds"]
    result["timings"] = report["timings"]
    result["records_out"] = report["records_out"]
    result["bad_records"] = report["bad_records"]
    result["output_bytes"] = sum(p.stat().st_size for p in (out / "job").rglob("*.parquet"))
    return result


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work_dir)
    cases = [c.strip() for c in args.cases.split(",")]
    inputs = {case: generate(work, case, args.scale) for case in cases}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {"duckdb": [], "job": []} for case in cases}
    for run in range(args.runs):
        for case in cases:
            order = ("duckdb", "job") if run % 2 == 0 else ("job", "duckdb")
            for engine in order:
                out = work / f"out-convert-{engine}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                result = (run_duckdb if engine == "duckdb" else run_job)(inputs[case], out, args.codec)
                runs[case][engine].append(result)
                shutil.rmtree(out, ignore_errors=True)
                print(f"run {run + 1} {case} {engine}: {json.dumps(result)}", flush=True)
    summary: dict[str, Any] = {
        "scale": args.scale,
        "runs": args.runs,
        "codec": args.codec,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bounds": BOUNDS,
        "cases": {},
    }
    for case in cases:
        mb = inputs[case]["bytes"] / 1024 / 1024
        entry: dict[str, Any] = {"input": {**inputs[case], "mb": round(mb, 1)}}
        for engine, engine_runs in runs[case].items():
            keys = ["seconds", "cpu_seconds", "peak_rss_mb", "output_bytes"]
            keys += ["job_seconds"] if engine == "job" else []
            entry[engine] = {key: median([r[key] for r in engine_runs]) for key in keys}
            entry[engine]["load_avg_1m_before"] = [r["load_avg_1m_before"] for r in engine_runs]
            entry[engine]["runs"] = engine_runs
        duck, job = entry["duckdb"], entry["job"]
        entry["ratio"] = {
            "whole_process": round(job["seconds"] / duck["seconds"], 2),
            "job_time": round(job["job_seconds"] / duck["seconds"], 2),
            "cpu": round(job["cpu_seconds"] / duck["cpu_seconds"], 2),
            "bytes": round(job["output_bytes"] / duck["output_bytes"], 3),
            "rss": round(job["peak_rss_mb"] / duck["peak_rss_mb"], 2),
        }
        entry["job"]["job_s_per_mb"] = round(job["job_seconds"] / mb, 4)
        summary["cases"][case] = entry
    got = summary["cases"]
    curves: dict[str, Any] = {}
    if "narrow" in got:
        for case in ("keys_1000", "keys_5000"):
            if case in got:
                curves[f"{case}_per_byte_over_narrow"] = round(
                    got[case]["job"]["job_s_per_mb"] / got["narrow"]["job"]["job_s_per_mb"], 2
                )
        if "narrow_5x" in got:
            curves["rss_5x_over_1x"] = round(
                got["narrow_5x"]["job"]["peak_rss_mb"] / got["narrow"]["job"]["peak_rss_mb"], 2
            )
            curves["job_time_5x_over_1x"] = round(
                got["narrow_5x"]["job"]["job_seconds"] / got["narrow"]["job"]["job_seconds"], 2
            )
            curves["duckdb_rss_5x_over_1x"] = round(
                got["narrow_5x"]["duckdb"]["peak_rss_mb"] / got["narrow"]["duckdb"]["peak_rss_mb"], 2
            )
    summary["curves"] = curves
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(render(summary))
    print(render(summary))


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"# The job (whole process) vs DuckDB COPY, {summary['codec']}, scale {summary['scale']}",
        "",
        f"Measured {summary['measured_at']}, {summary['machine']['cpus']} CPUs (shared with other work: see the "
        f"load averages), median of {summary['runs']} alternating runs; `bench/convert_vs_duckdb.py --scale "
        f"{summary['scale']} --runs {summary['runs']}`. Whole = wall time of the whole process (the job's: Python, "
        "JVM and session start included); job = the job's own report `seconds`; CPU = user + system of the "
        "process tree; RSS = peak of the process tree.",
        "",
        "| case | MiB in | engine | whole s | job s | CPU s | peak RSS MB | output MiB | load 1m |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case, entry in summary["cases"].items():
        for engine in ("duckdb", "job"):
            e = entry[engine]
            lines.append(
                f"| {case} | {entry['input']['mb']} | {engine} | {e['seconds']} | {e.get('job_seconds', '')} | "
                f"{e['cpu_seconds']} | {e['peak_rss_mb']} | {e['output_bytes'] / 1024 / 1024:.1f} | "
                f"{', '.join(str(v) for v in e['load_avg_1m_before'])} |"
            )
    lines += [
        "",
        "| case | whole (bound 1.3x) | job time (bound 1.0x) | CPU | bytes (bound 1.0x) | RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, entry in summary["cases"].items():
        r = entry["ratio"]
        lines.append(
            f"| {case} | {r['whole_process']}x | {r['job_time']}x | {r['cpu']}x | {r['bytes']}x | {r['rss']}x |"
        )
    lines += [
        "",
        "Curves (the job): " + ", ".join(f"{k} {v}" for k, v in summary["curves"].items()) + ".",
        "",
    ]
    stages = {case: entry["job"]["runs"][-1]["timings"] for case, entry in summary["cases"].items()}
    lines += [
        "Job stage timings (s, last run): " + "; ".join(f"{c} {t}" for c, t in stages.items()) + ".",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- profile


def profile(args: argparse.Namespace) -> None:
    from pyspark.sql import SparkSession

    from glue_jobs.ndjson_to_parquet import parse_job_args
    from glue_jobs.ndjson_to_parquet import run_job as job_run

    work = Path(args.work_dir)
    cases = [c for c in args.cases.split(",") if c in ("narrow", "keys_1000", "keys_5000")]
    inputs = {case: generate(work, case, args.scale) for case in cases}
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    results: dict[str, Any] = {"scale": args.scale, "measured_at": "", "cases": {}}
    for case in cases:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("bench-profile")
            .config("spark.ui.enabled", "false")
            .config("spark.python.profile", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .config("spark.executorEnv.PYTHONPATH", str(ROOT))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        out = work / "out-profile"
        shutil.rmtree(out, ignore_errors=True)
        argv = [
            "--JOB_NAME",
            "profile",
            "--MANIFEST_PATH",
            inputs[case]["manifest"],
            "--OUTPUT_PATH",
            str(out),
        ]
        report = job_run(spark, parse_job_args([*argv, "--COMPRESSION_TYPE", args.codec]))
        dump = Path(tempfile.mkdtemp(prefix="convert-profile-"))
        spark.sparkContext.dump_profiles(str(dump))
        spark.stop()
        stages = sorted(dump.glob("rdd_*.pstats"), key=lambda p: int(p.stem.split("_")[1]))
        entry: dict[str, Any] = {
            "mb": round(inputs[case]["bytes"] / 1024 / 1024, 1),
            "timings": report["timings"],
        }
        for name, path in zip(("parse", "write"), stages, strict=False):
            stats = pstats.Stats(str(path), stream=io.StringIO())
            rows = []
            for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
                rows.append(
                    {
                        "function": f"{Path(file).name}:{line}({func})",
                        "calls": calls,
                        "tottime": round(tottime, 3),
                        "cumtime": round(cumtime, 3),
                    }
                )
            entry[name] = {
                "total_tt": round(stats.total_tt, 3),  # type: ignore[attr-defined]
                "by_tottime": sorted(rows, key=lambda r: -r["tottime"])[: args.top],
                "by_cumtime": sorted(rows, key=lambda r: -r["cumtime"])[: args.top * 2],
            }
        shutil.rmtree(dump, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        results["cases"][case] = entry
        print(f"profiled {case}: {report['timings']}", flush=True)
    results["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "convert_profile.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"# Where the job's task time goes (PySpark task profiles), scale {args.scale}",
        "",
        f"Measured {results['measured_at']} with `bench/convert_vs_duckdb.py --profile --scale {args.scale}` "
        "(cProfile in every task, summed per stage; profiling itself inflates per-call overheads, and its times "
        "are wall time: on a loaded machine they include waiting for a core; compare shares, not seconds).",
        "",
    ]
    for case, entry in results["cases"].items():
        lines += [f"## {case} ({entry['mb']} MiB), stage timings {entry['timings']}", ""]
        for stage in ("parse", "write"):
            if stage not in entry:
                continue
            lines += [
                f"### {stage}: {entry[stage]['total_tt']} s profiled",
                "",
                "| function | calls | tottime s | cumtime s |",
                "| --- | ---: | ---: | ---: |",
            ]
            lines += [
                f"| `{r['function']}` | {r['calls']} | {r['tottime']} | {r['cumtime']} |"
                for r in entry[stage]["by_tottime"]
            ]
            lines.append("")
    (RESULTS / "convert_profile.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case's input size")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs per engine (medians reported)")
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated subset of " + ", ".join(CASES)
    )
    parser.add_argument("--codec", default="zstd")
    parser.add_argument(
        "--name",
        default="convert_vs_duckdb",
        help="results file name in bench/results (.json and .md); the default is the scale-1 reference",
    )
    parser.add_argument("--work-dir", default=str(ROOT / "work" / "bench"))
    parser.add_argument("--profile", action="store_true", help="profile the job's tasks instead of measuring")
    parser.add_argument("--top", type=int, default=15, help="functions listed per stage with --profile")
    parser.add_argument("--duckdb-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duckdb_child:
        duckdb_child(*args.duckdb_child)
    elif args.profile:
        profile(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
