"""Run every benchmark in turn (each writes bench/results/<name>.json and .md).

Minutes, not seconds: the embedded load run alone (10,000 files through the whole embedded stack) takes about 45
minutes on 2 cores.

    .venv/bin/python bench/run_all.py [--skip embedded_load.py] [--only control_plane.py]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BENCHMARKS = (
    "glue_vs_duckdb.py",
    "control_plane.py",
    "demo_timings.py",
    "embedded_load.py",
    "cost_model.py",  # last: it reads the others' results
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], choices=BENCHMARKS, help="leave this one out")
    parser.add_argument("--only", action="append", default=[], choices=BENCHMARKS, help="run only these")
    args = parser.parse_args(argv)
    failed = []
    for name in BENCHMARKS:
        if name in args.skip or (args.only and name not in args.only):
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(BENCH / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
