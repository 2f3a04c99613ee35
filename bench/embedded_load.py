"""Sustained load on the embedded stack (issue 7): many small files for one date through the whole real path.

Drives `pipeline.embedded.run.PipelineRun`, the code behind `pipeline demo` / `pipeline run`: Terraform
applies the project's stack to the embedded AWS (moto server), the files are put concurrently into the input
bucket, S3 notifies SQS, the event source poller feeds the manifest builder Lambda (in process), manifests start
executions of the real ASL in moto's interpreter, `glue:startJobRun.sync` runs the real Glue job on local Spark
and the status-update Lambda marks the files `completed`; `PipelineRun` then checks every line is in the lake or
in the quarantine exactly once and the DLQ is empty.

    .venv/bin/python bench/embedded_load.py [--files 10000] [--max-files-per-manifest 100 ...] [--append]
        [--max-batch-wait-seconds 30] [--flush-interval 30] [--timeout 5400]

One configuration per `--max-files-per-manifest` value, each in its own process (fresh embedded AWS, JVM and peak
RSS; work folder work/embedded-load-<batch>, kept for its logs). Writes bench/results/embedded_load.json and .md
(`--append` keeps earlier runs of other configurations). About 45 minutes per configuration on 2 cores.
moto's SQS costs O(queue depth) per message unless the bridges `sqs-counts-one-clock-read` and
`sqs-retention-one-attribute` (pipeline/embedded/bridges/, in force in every embedded run) are installed.

What is measured, and how (all timestamps come from the run itself, one wall clock, one process):
- uploads: first PutObject sent -> last PutObject answered (a botocore hook records each call);
- tracking: first upload -> the latest `created_at` of the 10,000 file items (written by the manifest builder
  when it tracks a file), and per file the lag from its PutObject answer to its `created_at`;
- manifests: the Step Functions executions' `startDate`s (per minute while files were being tracked, and overall);
  end to end: first upload -> the latest `updated_at` of the file items (the status update marking them
  `completed`) and -> the last execution's `stopDate`;
- AWS calls by caller and operation, counted by one botocore handler appended to
  `botocore.handlers.BUILTIN_HANDLERS` before any session exists, so every client in the process carries it.
  The caller is decided per call: a context variable set around each in-process Lambda invocation
  (`LambdaRunner.invoke`, wrapped here; the handlers do not start threads) names the function; calls signed with
  moto's interpreter credentials (`ak`, `moto.stepfunctions.parser.asl.utils.boto_client`) are the state
  machine's service integrations; the SQS poller's threads are `esm-*`; the Glue runner's are `glue-run-*`; the
  benchmark's own observation (PipelineRun's follow loop and verification, this script's final reads) runs on
  the main thread and is reported apart, never in the per-file numbers.
- Glue: the runner's records (runs, seconds, queue wait) and the job reports (records in / out / bad).
- memory: peak RSS of this process (`ru_maxrss`) and the sampled peak of the process tree (the Spark JVM and its
  Python workers included), with psutil every second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.load import calls  # noqa: E402, F401 - first: counts every AWS call from the first botocore session on
from bench.load.one_run import run_one  # noqa: E402
from bench.load.report import markdown  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument(
        "--max-files-per-manifest",
        type=int,
        action="append",
        help="one run per value (default: 100, terraform/variables.tf's default)",
    )
    parser.add_argument(
        "--max-batch-wait-seconds",
        type=int,
        default=30,
        help="30 (pipeline demo: 3, production: 300): under load batches close by count; this bounds the tail",
    )
    parser.add_argument(
        "--flush-interval",
        type=float,
        default=30.0,
        help="30 s (pipeline demo: 2 s, production: 5 min): each flush costs several O(table) queries in moto",
    )
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--workdir", default=None, help="work folder (default: a fresh temporary one per run)"
    )
    parser.add_argument(
        "--one", type=Path, default=None, help=argparse.SUPPRESS
    )  # child: write one result here
    parser.add_argument("--no-write", action="store_true", help="print, do not write bench/results")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the runs of other configurations already in bench/results/embedded_load.json",
    )
    args = parser.parse_args(argv)
    batches = args.max_files_per_manifest or [100]

    if args.one is not None:
        args.max_files_per_manifest = batches[0]
        result = run_one(args)
        args.one.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        return 0 if result["verification"]["ok"] else 1

    runs: list[dict[str, Any]] = []
    failed = False
    for batch in batches:
        with tempfile.TemporaryDirectory(prefix="embedded-load-") as tmp:
            out = Path(tmp) / "result.json"
            # kept after the run (logs/ for diagnosis); `work/` is git-ignored, --clean empties it next time
            workdir = args.workdir or str(REPO / "work" / f"embedded-load-{batch}")
            command = [
                sys.executable, __file__, "--one", str(out), "--files", str(args.files),
                "--max-files-per-manifest", str(batch), "--max-batch-wait-seconds", str(args.max_batch_wait_seconds),
                "--flush-interval", str(args.flush_interval), "--timeout", str(args.timeout),
                "--seed", str(args.seed), "--workdir", workdir,
            ]  # fmt: skip
            print(f"== {args.files:,} files, {batch} files per manifest", file=sys.stderr, flush=True)
            code = subprocess.run(command, cwd=REPO, check=False).returncode
            if not out.exists():
                print(f"the run with {batch} files per manifest failed (exit {code})", file=sys.stderr)
                failed = True
                continue
            runs.append(json.loads(out.read_text(encoding="utf-8")))
            failed = failed or code != 0
    if not runs:
        return 1
    if args.append and (RESULTS / "embedded_load.json").exists():
        previous = json.loads((RESULTS / "embedded_load.json").read_text(encoding="utf-8"))
        mine = {(r["configuration"]["max_files_per_manifest"], r["configuration"]["files"]) for r in runs}
        kept = [
            r
            for r in previous.get("runs", [])
            if (r["configuration"]["max_files_per_manifest"], r["configuration"]["files"]) not in mine
        ]
        runs = sorted(kept + runs, key=lambda r: r["configuration"]["max_files_per_manifest"])
        argv = [*argv, f"(+ {len(kept)} earlier run(s): {previous.get('command')})"] if kept else argv
    document = {
        "benchmark": "sustained load on the embedded stack (issue 7)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {_memory_gib()} GiB, Python "
        f"{platform.python_version()}, {platform.platform()}",
        "command": "python bench/embedded_load.py " + " ".join(argv),
        "runs": runs,
    }
    text = markdown(document)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "embedded_load.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "embedded_load.md").write_text(text, encoding="utf-8")
    return 1 if failed else 0


def _memory_gib() -> int:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30)
    except ImportError:
        return 0


def rewrite_markdown() -> None:
    """Regenerate the .md from the .json (after editing ``markdown``)."""
    document = json.loads((RESULTS / "embedded_load.json").read_text(encoding="utf-8"))
    (RESULTS / "embedded_load.md").write_text(markdown(document), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
