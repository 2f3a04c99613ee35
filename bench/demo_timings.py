"""Stage timings of `pipeline demo` (the README's main command) on this machine.

Runs the real command in a subprocess (own JVM, own embedded AWS, Terraform apply included) `--repeat` times in a
fresh work folder each, reads the summary it writes (`--summary-json`), and records per-stage seconds, the medians,
the load average at each run's start, and the goal check (default demo: about 50 MB over 20 files in under 60 s,
Terraform and the JVM included) to bench/results/demo_timings.json and .md.

    .venv/bin/python bench/demo_timings.py [--repeat 2] [--files 20] [--size-mb 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
GOAL_SECONDS = 60.0  # issue 17: <= 60 s on a quiet machine, Terraform and the JVM start included
STAGES = (
    "aws_start",
    "lambda_zip",
    "terraform_init",
    "terraform_apply",
    "spark_start",
    "generate",
    "runtime",
    "upload",
    "tracking",
    "processing",
    "glue_runs",
    "verify",
    "total",
)


def run_once(files: int, size_mb: float, entry: list[str]) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="demo-bench-")) / "work"
    summary_file = workdir.parent / "summary.json"
    load_average = round(os.getloadavg()[0], 2)  # the machine is shared: the numbers mean little without it
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            *entry,
            "demo",
            "--workdir",
            str(workdir),
            "--files",
            str(files),
            "--size-mb",
            str(size_mb),
            "--summary-json",
            str(summary_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    wall = time.monotonic() - started
    if proc.returncode != 0 or not summary_file.exists():
        raise SystemExit(
            f"pipeline demo failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    summary = json.loads(summary_file.read_text())
    shutil.rmtree(workdir.parent, ignore_errors=True)
    return {
        "wall_seconds": round(wall, 2),
        "load_average_1min": load_average,
        "timings": summary["timings"],
        "files": summary["files"],
        "input_bytes": summary["input_bytes"],
        "lines": summary["lines"],
        "records_out": summary["records_out"],
        "quarantined": summary["quarantined"],
        "manifests": len(summary["manifests"]),
        "glue_runs": summary["glue_runs"],
        "output_files": summary["output_files"],
        "output_bytes": summary["output_bytes"],
        "codec": summary["codec"],
        "ok": summary["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument(
        "--entry",
        default=None,
        help="a Python script standing in for `-m pipeline` (e.g. one that installs an extra patch)",
    )
    args = parser.parse_args()
    entry = [args.entry] if args.entry else ["-m", "pipeline"]

    runs = []
    for index in range(args.repeat):
        result = run_once(args.files, args.size_mb, entry)
        runs.append(result)
        print(
            f"run {index + 1}: wall {result['wall_seconds']} s, load {result['load_average_1min']}, "
            + ", ".join(f"{k} {v}" for k, v in result["timings"].items()),
            flush=True,
        )
    medians = {
        stage: round(statistics.median(r["timings"].get(stage, 0.0) for r in runs), 2) for stage in STAGES
    }
    wall = round(statistics.median(r["wall_seconds"] for r in runs), 2)
    document = {
        "benchmark": "pipeline demo stage timings",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "files": args.files,
            "size_mb": args.size_mb,
            "repeat": args.repeat,
            "entry": " ".join(entry),
        },
        "goal": {"total_seconds_below": GOAL_SECONDS, "met": wall < GOAL_SECONDS},
        "median_seconds": medians,
        "median_wall_seconds": wall,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "demo_timings.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "demo_timings.md").write_text(render_markdown(document), encoding="utf-8")
    print(render_markdown(document))


def render_markdown(document: dict) -> str:
    params, medians, wall = (
        document["parameters"],
        document["median_seconds"],
        document["median_wall_seconds"],
    )
    last = document["runs"][-1]
    outside = round(medians["total"] - medians["terraform_apply"], 2)
    lines = [
        "# `pipeline demo` stage timings",
        "",
        f"{document['date']}, {document['machine']['cpus']} CPUs, {params['files']} files, about "
        f"{params['size_mb']:g} MB, {params['repeat']} runs (medians). Goal: under {GOAL_SECONDS:.0f} s wall clock, "
        f"Terraform and the JVM included: **{'met' if wall < GOAL_SECONDS else 'not met'}** ({wall} s).",
        "",
        f"Command: `python {params['entry']} demo --files {params['files']} --size-mb {params['size_mb']:g}` in a "
        "fresh work folder per run.",
        "",
        "| stage | median seconds |",
        "| --- | ---: |",
        *[f"| {stage} | {medians[stage]} |" for stage in STAGES],
        f"| wall clock (process start to exit) | {wall} |",
        f"| total minus terraform_apply | {outside} |",
        "",
        "1-minute load average at each run's start (2 CPUs shared with other work): "
        + ", ".join(str(r.get("load_average_1min", "?")) for r in document["runs"])
        + ".",
        "",
        "Spark start (including warming its Python workers) and the sample data generation run in parallel with "
        "Terraform apply, `terraform_init` in parallel with `aws_start` and `lambda_zip` (0 in runs before it "
        "did); `glue_runs` is the time spent inside the Glue job runs, part of `processing`.",
        "",
        f"Last run: {last['files']} files, {last['input_bytes'] / 1e6:.1f} MB, {last['lines']} lines -> "
        f"{last['records_out']} rows + {last['quarantined']} quarantined, {last['manifests']} batches, "
        f"{last['output_files']} Parquet files ({last['output_bytes'] / 1e6:.1f} MB, {last['codec']}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
