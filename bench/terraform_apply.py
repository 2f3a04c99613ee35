"""Where the embedded `terraform apply` spends its time, resource by resource, against the provider's own floors.

Each run is its own process (moto's backends are process-wide): a fresh embedded AWS, the Lambda zip and Glue
artifacts built once for all runs, and `TerraformRunner.apply` of terraform/examples/embedded exactly as
`pipeline demo` calls it. A thread stamps every line Terraform writes to its log as it arrives (the runner streams
the output there), which gives each resource's "Creating..." and "Creation complete" offsets from the start of
`terraform apply`; the runner's own `exit ... after N s` lines give `init`, `apply` and `output`. Records the
seconds, the slowest resources, the critical chains and the 1-minute load average at each run's start to
bench/results/terraform_apply.json and .md.

    .venv/bin/python bench/terraform_apply.py [--repeat 3] [--label after]

The floors are the provider's fixed waits (terraform-provider-aws 5.100, `retry.StateChangeConf`: after `Delay`,
the N-th consecutive matching read ends the wait, N-1 sleeps apart): no answer of the endpoint makes them shorter
(a mismatch restarts the count, an error fails the resource). docs/scaling.md#embedded-terraform-apply explains them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"

# resource type -> (the provider's wait, its fixed floor in seconds, where it is in the provider's source)
FLOORS: dict[str, tuple[str, float, str]] = {
    "aws_s3_bucket_lifecycle_configuration": (
        "waitLifecycleConfigEquals: Delay 10 s, ContinuousTargetOccurence 10, PollInterval 5 s",
        10 + 9 * 5,
        "internal/service/s3/bucket_lifecycle_configuration.go (waitLifecycleConfigEquals)",
    ),
    "aws_sqs_queue": (
        "waitQueueAttributesPropagated: ContinuousTargetOccurence 6, MinTimeout 5 s",
        5 * 5,
        "internal/service/sqs/wait.go (waitQueueAttributesPropagated)",
    ),
    "aws_lambda_function": (
        "waitFunctionCreated: Delay 5 s, then State Active",
        5,
        "internal/service/lambda/wait.go (waitFunctionCreated)",
    ),
}

_CREATING = re.compile(r"^(?P<addr>\S+): Creating\.\.\.")
_CREATED = re.compile(r"^(?P<addr>\S+): Creation complete after (?P<dur>[0-9hms]+)")
_EXIT = re.compile(r"^===== exit (?P<code>\d+) after (?P<secs>[0-9.]+) s =====")
_COMMAND = re.compile(r"^===== terraform (?P<cmd>\w+) ")


def _resource_type(address: str) -> str:
    return next((part for part in address.split(".") if part.startswith("aws_")), address)


def _follow(log: Path, stamped: list[tuple[float, str]], stop: threading.Event, started: float) -> None:
    """Stamp each line of the growing log with the seconds since `started` at which it was seen."""
    offset, pending = 0, ""
    while True:
        done = stop.is_set()
        if log.exists():
            with log.open("r", encoding="utf-8", errors="replace") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset = handle.tell()
            now = time.monotonic() - started
            pending += chunk
            *lines, pending = pending.split("\n")
            stamped.extend((now, line) for line in lines)
        if done:
            return
        time.sleep(0.05)


def one_run(workdir: Path, artifacts: Path) -> dict[str, Any]:
    """In this (fresh) process: an embedded AWS, then the apply; returns the timings."""
    from pipeline.build.terraform import EMBEDDED_EXAMPLE_DIR, TerraformRunner
    from pipeline.embedded.server import EmbeddedAws

    variables = json.loads((artifacts / "variables.json").read_text())
    log = workdir / "terraform.log"
    stamped: list[tuple[float, str]] = []
    stop = threading.Event()
    load = round(os.getloadavg()[0], 2)
    with EmbeddedAws() as aws:
        started = time.monotonic()
        follower = threading.Thread(target=_follow, args=(log, stamped, stop, started), daemon=True)
        follower.start()
        TerraformRunner(EMBEDDED_EXAMPLE_DIR, log_file=log).apply(aws.endpoint_url, workdir / "tf", variables)
        total = time.monotonic() - started
        stop.set()
        follower.join()

    commands: dict[str, float] = {}
    apply_started: float | None = None
    current = ""
    starts: dict[str, float] = {}
    resources: dict[str, dict[str, Any]] = {}
    for seen, line in stamped:
        if m := _COMMAND.match(line):
            current = m["cmd"]
            if current == "apply":
                apply_started = seen
        elif m := _EXIT.match(line):
            commands[current] = float(m["secs"])
        elif apply_started is not None and (m := _CREATING.match(line)):
            starts[m["addr"]] = seen - apply_started
        elif apply_started is not None and (m := _CREATED.match(line)):
            end = seen - apply_started
            begin = starts.get(m["addr"], end)
            resources[m["addr"]] = {
                "type": _resource_type(m["addr"]),
                "from": round(begin, 1),
                "to": round(end, 1),
                "seconds": round(end - begin, 1),
            }
    first = min((r["from"] for r in resources.values()), default=None)
    return {
        "load_average_1min": load,
        "seconds": {**{k: round(v, 1) for k, v in commands.items()}, "init_apply_output": round(total, 1)},
        "first_creation_at": first,
        "resources": resources,
    }


def _build_artifacts(folder: Path) -> None:
    from pipeline.build.glue_artifacts import build_glue_artifacts
    from pipeline.build.lambda_zip import build_lambda_zip

    zip_path = build_lambda_zip(folder / "lambda.zip")
    glue = build_glue_artifacts(folder / "glue")
    variables = {
        "lambda_zip_path": str(zip_path),
        "glue_script_path": str(glue.script),
        "glue_package_path": str(glue.package),
    }
    (folder / "variables.json").write_text(json.dumps(variables), encoding="utf-8")


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    commands = sorted({k for r in runs for k in r["seconds"]})
    by_type: dict[str, list[float]] = {}
    for run in runs:
        for info in run["resources"].values():
            by_type.setdefault(info["type"], []).append(info["seconds"])
    slowest = sorted(
        ((t, median(v), max(v)) for t, v in by_type.items()), key=lambda item: item[1], reverse=True
    )[:8]
    return {
        "median_seconds": {k: median([r["seconds"][k] for r in runs if k in r["seconds"]]) for k in commands},
        "runs_apply_seconds": [r["seconds"].get("apply") for r in runs],
        "median_first_creation_at": median([r["first_creation_at"] for r in runs if r["first_creation_at"]]),
        "slowest_resource_types": [
            {
                "type": t,
                "median_seconds": m,
                "max_seconds": x,
                "provider_floor_seconds": FLOORS[t][1] if t in FLOORS else None,
                "provider_wait": FLOORS[t][0] if t in FLOORS else None,
                "source": FLOORS[t][2] if t in FLOORS else None,
            }
            for t, m, x in slowest
        ],
    }


def render_markdown(document: dict[str, Any]) -> str:
    summary = document["summary"]
    med = summary["median_seconds"]
    lines = [
        f"# Embedded `terraform apply` ({document['label']})",
        "",
        f"{document['date']}, {document['machine']['cpus']} CPUs, {len(document['runs'])} runs, each in a fresh "
        "process and work folder. 1-minute load average at each run's start: "
        + ", ".join(str(r["load_average_1min"]) for r in document["runs"])
        + ".",
        "",
        "| seconds (median) | |",
        "| --- | ---: |",
        *[f"| `terraform {k}` | {v} |" for k, v in med.items() if k != "init_apply_output"],
        f"| init + apply + output (what `pipeline demo` waits for) | {med.get('init_apply_output')} |",
        f"| first resource created, from the start of `apply` | {summary['median_first_creation_at']} |",
        "",
        "`terraform apply` per run: " + ", ".join(f"{s} s" for s in summary["runs_apply_seconds"]) + ".",
        "",
        "| resource type (slowest) | median s | max s | provider floor s | the provider's wait |",
        "| --- | ---: | ---: | ---: | --- |",
        *[
            f"| `{r['type']}` | {r['median_seconds']} | {r['max_seconds']} | "
            f"{'' if r['provider_floor_seconds'] is None else r['provider_floor_seconds']} | "
            f"{r['provider_wait'] or ''} |"
            for r in summary["slowest_resource_types"]
        ],
        "",
        "A floor is a fixed wait of terraform-provider-aws 5.100 (`retry.StateChangeConf`: after `Delay`, the N-th "
        "consecutive matching read ends it, N-1 sleeps apart): an endpoint that answers right at once pays exactly "
        "the floor, and no answer makes it shorter. See docs/scaling.md#embedded-terraform-apply.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--label", default="current tree")
    parser.add_argument("--one", nargs=2, metavar=("WORKDIR", "ARTIFACTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(Path(args.one[0]), Path(args.one[1]))))
        return

    runs = []
    with tempfile.TemporaryDirectory(prefix="apply-bench-") as tmp:
        artifacts = Path(tmp) / "artifacts"
        artifacts.mkdir()
        _build_artifacts(artifacts)
        for index in range(args.repeat):
            workdir = Path(tmp) / f"run{index}"
            proc = subprocess.run(
                [sys.executable, __file__, "--one", str(workdir), str(artifacts)],
                capture_output=True,
                text=True,
                check=False,
                cwd=REPO,
            )
            if proc.returncode != 0:
                raise SystemExit(f"apply run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs.append(run)
            print(f"run {index + 1}: load {run['load_average_1min']}, seconds {run['seconds']}", flush=True)
    document = {
        "benchmark": "embedded terraform apply",
        "label": args.label,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "summary": _summarise(runs),
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "terraform_apply.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "terraform_apply.md").write_text(render_markdown(document), encoding="utf-8")
    print(render_markdown(document))


if __name__ == "__main__":
    main()
