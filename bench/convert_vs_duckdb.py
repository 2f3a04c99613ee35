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

--name NAME writes bench/results/NAME.json|md instead (keep before/after results apart). --baseline-root DIR
also runs DIR's job (another checkout, e.g. `git worktree add --detach DIR <commit before a change>`) in the same
runs, alternating with this checkout's job and DuckDB: a before/after on a machine whose load varies. --timeline also turns on
Spark's event log for the job's runs and summarises it per run (`timeline`): when the session was up (from the
process start), each stage's wall, task count and busy share of the 2 cores (task time / 2 x stage wall; the rest is
idle slots: stragglers, gaps between tasks), the driver's time between the stages, and the time from the last
stage to the process's exit (spark.stop, JVM exit).

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
        self.own: dict[int, float] = {}  # each process's own user + system, without its reaped children
        self.kind: dict[int, str] = {}  # pid -> "root", "java" or "python" (the Spark workers and daemon)
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
                self.own[proc.pid] = times.user + times.system
                name = proc.name()  # each time: spark-submit's bash execs the JVM under the same pid
                self.kind[proc.pid] = "root" if proc.pid == self.pid else ("java" if "java" in name else name)
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
    started_epoch = time.time()
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
        # `cpu_seconds` adds each process's reaped children too (as the earlier results did): a parent sampled
        # after reaping a child counts the child twice (the Python workers in the daemon's). `cpu_own_seconds`
        # counts each process once (a process living under 0.1 s may be missed): the figure to compare.
        "cpu_own_seconds": round(sum(sampler.own.values()), 1),
        "cpu_by_process": {
            kind: round(sum(c for pid, c in sampler.own.items() if sampler.kind.get(pid) == kind), 1)
            for kind in sorted(set(sampler.kind.values()))
        },
        "peak_rss_mb": round(sampler.peak / 1024 / 1024),
        "load_avg_1m_before": round(load, 2),
        "stdout": out,
        "started_epoch": started_epoch,
    }


def run_duckdb(data: dict[str, Any], out: Path, codec: str, timeline: bool = False) -> dict[str, Any]:
    result = run_process([sys.executable, __file__, "--duckdb-child", data["dir"], str(out), codec])
    result.pop("stdout")
    result.pop("started_epoch")
    result["output_bytes"] = (out / "duckdb.parquet").stat().st_size
    return result


def run_job(
    data: dict[str, Any], out: Path, codec: str, timeline: bool = False, root: Path = ROOT
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    events = out / "eventlog"
    if timeline:  # read by pyspark's gateway launch: the job's own session conf is unchanged
        events.mkdir(parents=True)
        env["PYSPARK_SUBMIT_ARGS"] = (
            f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{events} pyspark-shell"
        )
    script = root / JOB_SCRIPT.relative_to(ROOT)
    argv = [sys.executable, str(script), "--JOB_NAME", "bench", "--MANIFEST_PATH", data["manifest"]]
    argv += ["--OUTPUT_PATH", str(out / "job"), "--COMPRESSION_TYPE", codec]
    result = run_process(argv, env)
    report = json.loads(result.pop("stdout").strip().splitlines()[-1])
    result["job_seconds"] = report["seconds"]
    result["timings"] = report["timings"]
    result["records_out"] = report["records_out"]
    result["bad_records"] = report["bad_records"]
    result["output_bytes"] = sum(p.stat().st_size for p in (out / "job").rglob("*.parquet"))
    started_epoch = result.pop("started_epoch")
    if timeline:
        logs = sorted(p for p in events.iterdir() if p.is_file())
        result["timeline"] = summarise_event_log(logs[0], started_epoch, result["seconds"])
    return result


def summarise_event_log(path: Path, started_epoch: float, process_seconds: float) -> dict[str, Any]:
    """Per stage: wall, tasks, busy share of the cores, the longest idle tail; the driver's gaps; start and stop."""
    app_start = app_end = None
    stages: dict[int, dict[str, Any]] = {}
    tasks: dict[int, list[tuple[float, float, dict[str, Any]]]] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        kind = event["Event"]
        if kind == "SparkListenerApplicationStart":
            app_start = event["Timestamp"] / 1000
        elif kind == "SparkListenerApplicationEnd":
            app_end = event["Timestamp"] / 1000
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            stages[info["Stage ID"]] = {
                "name": info.get("Stage Name", ""),
                "submitted": info["Submission Time"] / 1000,
                "completed": info["Completion Time"] / 1000,
            }
        elif kind == "SparkListenerTaskEnd":
            info, metrics = event["Task Info"], event.get("Task Metrics") or {}
            tasks.setdefault(event["Stage ID"], []).append(
                (info["Launch Time"] / 1000, info["Finish Time"] / 1000, metrics)
            )
    cores = os.cpu_count() or 2
    out: dict[str, Any] = {"stages": []}
    if app_start is not None:
        out["session_up_s"] = round(app_start - started_epoch, 2)  # interpreter, imports, JVM, SparkContext
    previous_end = app_start
    for stage_id in sorted(stages):
        stage = stages[stage_id]
        spans = sorted(tasks.get(stage_id, []))
        wall = stage["completed"] - stage["submitted"]
        busy = sum(end - start for start, end, _ in spans)
        ends = sorted(end for _, end, _ in spans)
        # the tail: from the moment fewer tasks than cores remain running to the stage's end
        tail = stage["completed"] - ends[-cores] if len(ends) >= cores else wall
        out["stages"].append(
            {
                "stage": stage_id,
                "driver_before_s": round(stage["submitted"] - previous_end, 3) if previous_end else None,
                "wall_s": round(wall, 3),
                "tasks": len(spans),
                "busy_share": round(busy / (cores * wall), 3) if wall else None,
                "task_s": [round(end - start, 2) for start, end, _ in spans],
                "first_launch_after_s": round(spans[0][0] - stage["submitted"], 3) if spans else None,
                "tail_s": round(tail, 3),
                "deserialize_s": round(
                    sum(m.get("Executor Deserialize Time", 0) for *_, m in spans) / 1000, 3
                ),
                "result_mb": round(sum(m.get("Result Size", 0) for *_, m in spans) / 1e6, 2),
            }
        )
        previous_end = stage["completed"]
    if previous_end is not None:
        out["after_last_stage_s"] = round(started_epoch + process_seconds - previous_end, 2)
    if app_end is not None and previous_end is not None:
        out["stop_s"] = round(app_end - previous_end, 2)  # report, publish, then spark.stop's listener end
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work_dir)
    cases = [c.strip() for c in args.cases.split(",")]
    inputs = {case: generate(work, case, args.scale) for case in cases}
    # --baseline-root: the job of another checkout (e.g. a detached worktree of the commit before a change), run
    # alternately with this one and DuckDB in the same runs: a before/after on a machine whose load varies
    engines = ["duckdb", "job"] + (["baseline"] if args.baseline_root else [])
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {case: {e: [] for e in engines} for case in cases}
    for run in range(args.runs):
        for case in cases:
            order = engines[run % len(engines) :] + engines[: run % len(engines)]
            for engine in order:
                out = work / f"out-convert-{engine}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                if engine == "duckdb":
                    result = run_duckdb(inputs[case], out, args.codec)
                else:
                    root = Path(args.baseline_root).resolve() if engine == "baseline" else ROOT
                    result = run_job(inputs[case], out, args.codec, args.timeline, root)
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
            keys = ["seconds", "cpu_seconds", "cpu_own_seconds", "peak_rss_mb", "output_bytes"]
            keys += ["job_seconds"] if engine != "duckdb" else []
            entry[engine] = {key: median([r[key] for r in engine_runs]) for key in keys}
            entry[engine]["load_avg_1m_before"] = [r["load_avg_1m_before"] for r in engine_runs]
            entry[engine]["runs"] = engine_runs
        duck, job = entry["duckdb"], entry["job"]
        entry["ratio"] = {
            "whole_process": round(job["seconds"] / duck["seconds"], 2),
            "job_time": round(job["job_seconds"] / duck["seconds"], 2),
            "cpu": round(job["cpu_seconds"] / duck["cpu_seconds"], 2),
            "cpu_own": round(job["cpu_own_seconds"] / duck["cpu_own_seconds"], 2),
            "bytes": round(job["output_bytes"] / duck["output_bytes"], 3),
            "rss": round(job["peak_rss_mb"] / duck["peak_rss_mb"], 2),
        }
        entry["job"]["job_s_per_mb"] = round(job["job_seconds"] / mb, 4)
        if "baseline" in entry:
            base = entry["baseline"]
            entry["ratio_baseline"] = {
                "whole_process": round(base["seconds"] / duck["seconds"], 2),
                "job_time": round(base["job_seconds"] / duck["seconds"], 2),
                "cpu_own": round(base["cpu_own_seconds"] / duck["cpu_own_seconds"], 2),
                "bytes": round(base["output_bytes"] / duck["output_bytes"], 3),
            }
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
        "process tree, reaped children included as before (may count a Python worker twice); own CPU = each "
        "process's own user + system, counted once; RSS = peak of the process tree.",
        "",
        "| case | MiB in | engine | whole s | job s | CPU s | own CPU s | peak RSS MB | output MiB | load 1m |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for case, entry in summary["cases"].items():
        for engine in ("duckdb", "baseline", "job"):
            if engine not in entry:
                continue
            e = entry[engine]
            lines.append(
                f"| {case} | {entry['input']['mb']} | {engine} | {e['seconds']} | {e.get('job_seconds', '')} | "
                f"{e['cpu_seconds']} | {e['cpu_own_seconds']} | {e['peak_rss_mb']} | {e['output_bytes'] / 1024 / 1024:.1f} | "
                f"{', '.join(str(v) for v in e['load_avg_1m_before'])} |"
            )
    lines += [
        "",
        "| case | whole (bound 1.3x) | job time (bound 1.0x) | CPU | own CPU | bytes (bound 1.0x) | RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case, entry in summary["cases"].items():
        r = entry["ratio"]
        lines.append(
            f"| {case} | {r['whole_process']}x | {r['job_time']}x | {r['cpu']}x | {r['cpu_own']}x | {r['bytes']}x | "
            f"{r['rss']}x |"
        )
        if "ratio_baseline" in entry:
            b = entry["ratio_baseline"]
            lines.append(
                f"| {case} (baseline) | {b['whole_process']}x | {b['job_time']}x | | {b['cpu_own']}x | "
                f"{b['bytes']}x | |"
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
    for case, entry in summary["cases"].items():
        for engine in ("baseline", "job"):
            timeline = entry[engine]["runs"][-1].get("timeline") if engine in entry else None
            if not timeline:
                continue
            lines += [
                f"Timeline of the last {engine} run, {case} (Spark's event log): session up "
                f"{timeline.get('session_up_s')} s after the process start; after the last stage "
                f"{timeline.get('after_last_stage_s')} s to the process exit.",
                "",
                "| stage | driver before s | wall s | tasks | busy share | first launch s | tail s | task s |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            ]
            lines += [
                f"| {st['stage']} | {st['driver_before_s']} | {st['wall_s']} | {st['tasks']} | {st['busy_share']} | "
                f"{st['first_launch_after_s']} | {st['tail_s']} | {', '.join(str(t) for t in st['task_s'])} |"
                for st in timeline["stages"]
            ]
            lines.append("")
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
    parser.add_argument("--work-dir", default=str(ROOT / "work" / "bench"))
    parser.add_argument("--name", default="convert_vs_duckdb", help="results: bench/results/NAME.json|md")
    parser.add_argument(
        "--baseline-root", help="also run the job of this checkout, alternating (before/after)"
    )
    parser.add_argument("--timeline", action="store_true", help="summarise Spark's event log of each job run")
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
