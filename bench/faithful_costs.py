"""Benchmark: what issue 12's faithful conversion costs, before (d34809d) and after (HEAD), through the entry script.

    .venv/bin/python bench/faithful_costs.py                 # 50 MB narrow, 50 MB of 1,000-key, 20 MB of 5,000-key
    .venv/bin/python bench/faithful_costs.py --size-mb 0.5   # scale every case
    .venv/bin/python bench/faithful_costs.py --reps 2        # runs per commit and case (median)

Same seeded inputs as bench/wide_records.py (its generators: narrow events from pipeline.embedded.sample_data,
flat 1,000- and 5,000-key objects), kept under --work-dir (default work/bench/wide, outside git). For each case the
job runs as its own process (`python glue_jobs/run_ndjson_to_parquet.py ... --COMPRESSION_TYPE zstd`, JVM start
included) for both commits, alternating before/after: the before tree is a temporary `git worktree add --detach`
of the base commit (removed afterwards) with PYTHONPATH set to it, the after tree is this checkout. Reported per
case: median whole-process seconds, median job stage timings (report `timings`), s/MB and after/before ratios.
A case whose first before-run takes more than --slow-s seconds gets 2 runs per commit instead of --reps.

The accounting check's own cost (after only): one in-process run_job per case under cProfile (the driver's
merge_counts and check_line_accounting, cumulative), plus the workers' side timed directly: count_lines over the
case's input bytes in the planner's block sizes (the only per-byte work the check adds in stage 1; Spark's Python
workers are other processes, cProfile in the driver does not see them). Results: bench/results/faithful_costs.json
and .md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wide_records import CASES, _argv, generate  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BASE = "d34809d"
ENTRY = "glue_jobs/run_ndjson_to_parquet.py"
STAGES = ("plan", "parse", "parse_task_cpu", "resolve", "write", "write_task_cpu")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def run_entry(tree: Path, manifest: str, out: Path) -> dict[str, Any]:
    """One job process from `tree`: whole-process seconds and the report it printed."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(tree / ENTRY), *_argv("bench-faithful", manifest, str(out))],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: exit {done.returncode}: {done.stderr[-2000:]}")
    report = next(json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    return {"seconds": round(seconds, 2), "report": report}


def _median_run(runs: list[dict[str, Any]], mb: float) -> dict[str, Any]:
    report = runs[0]["report"]
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "runs_s": [r["seconds"] for r in runs],
        "seconds": round(seconds, 2),
        "s_per_mb": round(seconds / mb, 4),
        "timings": {
            stage: round(statistics.median(r["report"]["timings"].get(stage, 0.0) for r in runs), 3)
            for stage in STAGES
        },
        "job_seconds": round(statistics.median(r["report"]["seconds"] for r in runs), 2),
        "records_out": report["records_out"],
        "bad_records": report["bad_records"],
        "output_files": len(report["output_files"]),
    }


def compare(work: Path, inputs: dict[str, dict[str, Any]], reps: int, slow_s: float) -> dict[str, Any]:
    before_tree = Path(tempfile.mkdtemp(prefix="faithful-before-")) / "tree"
    _git("worktree", "add", "--detach", str(before_tree), BASE)
    trees = {"before": before_tree, "after": ROOT}
    cases: dict[str, Any] = {}
    try:
        for case, info in inputs.items():
            mb = info["bytes"] / 1024 / 1024
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            load = os.getloadavg()
            wanted = reps
            i = 0
            while i < wanted:
                for label in ("before", "after") if i % 2 == 0 else ("after", "before"):
                    run = run_entry(trees[label], info["manifest"], work / "out" / f"{label}-{case}")
                    runs[label].append(run)
                    print(case, label, i, run["seconds"], run["report"]["timings"], flush=True)
                if i == 0 and runs["before"][0]["seconds"] > slow_s:
                    wanted = min(reps, 2)
                i += 1
            row: dict[str, Any] = {
                "keys": CASES[case][0],
                "mb": round(mb, 2),
                "lines": info["lines"],
                "load_before": [round(x, 2) for x in load],
                **{label: _median_run(runs[label], mb) for label in ("before", "after")},
            }
            row["ratio"] = round(row["after"]["seconds"] / row["before"]["seconds"], 2)
            row["ratio_job"] = round(row["after"]["job_seconds"] / row["before"]["job_seconds"], 2)
            cases[case] = row
    finally:
        _git("worktree", "remove", "--force", str(before_tree))
        shutil.rmtree(before_tree.parent, ignore_errors=True)
    return cases


def accounting_cost(work: Path, inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The check's own seconds in one in-process after-run per case (driver: cProfile; workers: count_lines)."""
    from glue_jobs.ndjson_to_parquet import parse_job_args, run_job
    from glue_jobs.ndjson_to_parquet.accounting import count_lines
    from glue_jobs.ndjson_to_parquet.constants import BLOCK_BYTES
    from pipeline.embedded.spark_session import local_spark_session

    spark = local_spark_session(app_name="bench-faithful", cores=2, driver_memory="2g")
    out = work / "out" / "profile"
    shutil.rmtree(out, ignore_errors=True)
    costs: dict[str, Any] = {}
    try:
        run_job(spark, parse_job_args(_argv("warmup", ROOT / "glue_jobs/samples/manifest.json", f"{out}/w")))
        for case, info in inputs.items():
            profile = cProfile.Profile()
            started = time.monotonic()
            profile.enable()
            run_job(spark, parse_job_args(_argv(case, info["manifest"], f"{out}/{case}")))
            profile.disable()
            seconds = time.monotonic() - started
            stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
            driver = {
                name: round(cumulative, 4)
                for (filename, _, name), (_, _, _, cumulative, _) in stats.items()
                if filename.endswith("accounting.py") and name in ("merge_counts", "check_line_accounting")
            }
            data = Path(json.loads(Path(info["manifest"]).read_text())["entries"][0]["url"]).read_bytes()
            blocks = [data[i : i + BLOCK_BYTES] for i in range(0, len(data), BLOCK_BYTES)]
            counted = time.perf_counter()
            lines = sum(count_lines(block) for block in blocks)
            worker = time.perf_counter() - counted
            total = sum(driver.values()) + worker
            costs[case] = {
                "run_seconds": round(seconds, 2),
                "driver_s": driver,
                "count_lines_s": round(worker, 4),
                "count_lines_lines": lines,
                "accounting_s": round(total, 4),
                "share": round(total / seconds, 5),
            }
            print(case, "accounting", json.dumps(costs[case]), flush=True)
    finally:
        spark.stop()
        shutil.rmtree(out, ignore_errors=True)
    return costs


def write_markdown(run: dict[str, Any]) -> None:
    lines = [
        "# Faithful conversion (issue 12): what it costs, before and after",
        "",
        "Generated by `bench/faithful_costs.py`: each job run is its own process "
        f"(`python {ENTRY} ... --COMPRESSION_TYPE zstd`, JVM start included), before = {run['before']}, "
        f"after = {run['after']}, alternating, median of the runs listed. `job` is the report's own `seconds`; "
        "stage columns are the report's `timings` (median), before / after.",
        "",
        f"{run['date']}, {run['machine']}, --size-mb {run['scale']:g}, load average before/after the bench: "
        f"{run['load_before']} / {run['load_after']}, total {run['bench_seconds']} s",
        "",
        "| case | MB | lines | runs before / after (s) | process s | after/before | s/MB | job s | "
        "job after/before | parse | parse cpu | resolve | write | write cpu |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case, row in run["cases"].items():
        b, a = row["before"], row["after"]

        def pair(key: str, b: dict[str, Any] = b, a: dict[str, Any] = a) -> str:
            return f"{b['timings'][key]} / {a['timings'][key]}"

        lines.append(
            f"| {case} | {row['mb']} | {row['lines']} | {b['runs_s']} / {a['runs_s']} | "
            f"{b['seconds']} / {a['seconds']} | {row['ratio']} | {b['s_per_mb']} / {a['s_per_mb']} | "
            f"{b['job_seconds']} / {a['job_seconds']} | {row['ratio_job']} | {pair('parse')} | "
            f"{pair('parse_task_cpu')} | {pair('resolve')} | {pair('write')} | {pair('write_task_cpu')} |"
        )
    lines += [
        "",
        "## The accounting check's own cost (after, one in-process run_job per case under cProfile)",
        "",
        "`driver`: cumulative seconds of merge_counts and check_line_accounting in the driver (both calls); "
        "`count_lines`: the workers' per-block line count, timed directly over the case's input in BLOCK_BYTES "
        "blocks (one core); share = their sum / the run's wall seconds.",
        "",
        "| case | run s | driver s | count_lines s | accounting s | share |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for case, cost in run["accounting"].items():
        lines.append(
            f"| {case} | {cost['run_seconds']} | {cost['driver_s']} | {cost['count_lines_s']} | "
            f"{cost['accounting_s']} | {cost['share'] * 100:.3f}% |"
        )
    if run.get("notes"):
        lines += ["", run["notes"]]
    lines.append("")
    (RESULTS / "faithful_costs.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=1.0, help="scale of every case (1 = 50/50/20 MB)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "work" / "bench" / "wide")
    parser.add_argument("--reps", type=int, default=3, help="runs per commit and case (median)")
    parser.add_argument("--slow-s", type=float, default=60.0, help="first before-run above this: 2 runs")
    parser.add_argument("--notes", default="", help="a sentence kept with the run in the results")
    options = parser.parse_args()
    started = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    inputs = {
        case: generate(options.work_dir, case, keys, megabytes * options.size_mb)
        for case, (keys, megabytes) in CASES.items()
    }
    cases = compare(options.work_dir, inputs, options.reps, options.slow_s)
    accounting = accounting_cost(options.work_dir, inputs)
    run = {
        "before": _git("rev-parse", "--short", BASE),
        "after": _git("rev-parse", "--short", "HEAD"),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "scale": options.size_mb,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "bench_seconds": round(time.monotonic() - started),
        "notes": options.notes,
        "cases": cases,
        "accounting": accounting,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faithful_costs.json").write_text(json.dumps(run, indent=1) + "\n")
    write_markdown(run)
    print(f"wrote {RESULTS / 'faithful_costs.json'} and faithful_costs.md")


if __name__ == "__main__":
    main()
