"""One configuration of the load run, in its own process: generate the files while the stack applies, drop
them through `PipelineRun`, and gather what was measured."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.load.analysis import analyse
from bench.load.calls import COUNTER, attribute_lambda_invocations, moto_sqs_bridges
from bench.load.observe import LoadReporter, MemorySampler, quiet_logging, server_errors


def generate_files(folder: Path, count: int, day: dt.date, seed: int) -> list[Any]:
    """`count` small NDJSON files of one date (5-20 realistic events each, `pipeline.embedded.sample_data`'s events);
    every 50th is gzip-compressed and every 100th carries one corrupt line (it must end in the quarantine)."""
    from pipeline.embedded.drop import DropFile
    from pipeline.embedded.sample_data import write_drop

    rng = random.Random(seed)
    sizes = [rng.randint(5, 20) for _ in range(count)]

    def one(index: int) -> DropFile:
        compressed = index % 50 == 49
        key = f"events/{day.isoformat()}/part-{index:05d}.ndjson" + (".gz" if compressed else "")
        stats = write_drop(
            folder / key,
            sizes[index],
            seed=seed + index,
            day=day,
            dirty_every=sizes[index] if index % 100 == 37 else None,
            gzip=compressed,
        )
        return DropFile(
            path=folder / key, key=key, size=stats.bytes, lines=stats.lines, bad_lines=stats.bad_lines
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, range(count)))


# --------------------------------------------------------------------------------------------- one configuration


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    from pipeline.embedded.run import PipelineRun, RunOptions

    durations = attribute_lambda_invocations()
    moto_patches = moto_sqs_bridges()
    reporter = LoadReporter()
    memory = MemorySampler().start()
    load_before = os.getloadavg()
    workdir = Path(args.workdir).resolve()
    options = RunOptions(
        workdir=workdir,
        clean=True,
        max_files_per_manifest=args.max_files_per_manifest,
        max_batch_wait_seconds=args.max_batch_wait_seconds,
        flush_interval_seconds=args.flush_interval,
        timeout_seconds=args.timeout,
    )
    day = dt.datetime.now(dt.UTC).date()
    run = PipelineRun(options, reporter)
    try:
        run.prepare()
        quiet_logging(run.layout.logs)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate") as pool:
            files_future = pool.submit(generate_files, run.layout.input, args.files, day, args.seed)
            run.start_stack()
            files = files_future.result()
        generate_done = time.monotonic() - started
        assert run.stack.outputs is not None
        COUNTER.upload_bucket = run.stack.outputs.input_bucket
        COUNTER.reset()  # only what happens from the first upload on (Terraform's and the wiring's calls out)
        for values in durations.values():
            values.clear()
        summary = run.execute(files)
        finished = time.time()
        analysis = analyse(run, files, reporter, durations)
        load_after = os.getloadavg()
    finally:
        run.stop()
        memory.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary_dict = summary.as_dict()
    manifests = summary_dict.pop("manifests")
    return {
        "configuration": {
            "files": args.files,
            "date": day.isoformat(),
            "max_files_per_manifest": args.max_files_per_manifest,
            "max_batch_wait_seconds": args.max_batch_wait_seconds,
            "flush_interval_seconds": args.flush_interval,
            "seed": args.seed,
            "moto_patches": moto_patches,
            "terraform_variables": options.tf_variables(),
        },
        "input": {
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "lines": sum(f.lines for f in files),
            "corrupt_lines": sum(f.bad_lines or 0 for f in files),
            "gzip_files": sum(1 for f in files if f.key.endswith(".gz")),
            "generate_seconds_overlapping_apply": round(generate_done, 1),
        },
        **analysis,
        "verification": {
            "ok": summary.ok,
            "problems": summary.problems,
            "files_completed": summary.files_completed,
            "files_failed": summary.files_failed,
            "records_out": summary.records_out,
            "quarantined": summary.quarantined,
            "dlq_messages": summary.dlq_messages,
            "duplicate_notifications": summary.duplicate_notifications,
            "output_files": summary.output_files,
            "output_bytes": summary.output_bytes,
            "codec": summary.codec,
        },
        "stage_seconds": summary.timings,
        "manifest_sizes": dict(sorted(Counter(m["file_count"] for m in manifests).items())),
        "memory": {
            "peak_rss_process_mib": round(peak_kib / 1024, 1),
            "peak_rss_process_tree_sampled_mib": round(memory.peak_tree / 2**20, 1),
        },
        "moto_server_errors": server_errors(run.layout.logs / "pipeline.log"),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in load_after],
        },
        "finished_at": dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(timespec="seconds"),
    }
