"""Ctrl-C during the Glue stage of `pipeline run`, and what reaches the terminal meanwhile (issue 15, item 7).

One real run in a subprocess (the embedded AWS, Terraform, the Glue job on local Spark), in its own process group:
the test sends SIGINT to the whole group, as a terminal's Ctrl-C does (the JVM, its Python workers and every other
child get it too), once the first Glue run has started. The run then prints one `interrupted` line saying where it
was, what it had done and how to go on, exits 130, prints its progress lines once; and nothing of Spark's
(start-up WARN lines, log4j, the crashed workers) reaches the terminal: it is in <workdir>/logs/spark.log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]

REPO = Path(__file__).resolve().parents[2]
FILES = 4


def _inputs(folder: Path) -> None:
    for index in range(FILES):
        path = folder / "2026-10-05" / f"part-{index}.ndjson"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (
            json.dumps({"event_id": f"{index}-{i}", "n": i, "tags": ["a", "b"], "user": {"id": i % 97}})
            for i in range(20_000)
        )
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _glue_run_started(log: str) -> bool:
    return any(" glue run " in line and line.endswith(" started") for line in log.splitlines())


def test_ctrl_c_during_the_glue_stage_says_what_was_done_and_spark_stays_off_the_terminal(
    tmp_path: Path,
) -> None:
    _inputs(tmp_path / "in")
    workdir = tmp_path / "w"
    env = {**os.environ, "COLUMNS": "400", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SPARK_LOCAL_IP"):
        env.pop(key, None)
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--input",
                "in",
                "--workdir",
                "w",
                "--max-files-per-manifest",
                "1",
                "--timeout",
                "300",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: the test's Ctrl-C reaches it and its children only
        )
        log = workdir / "logs" / "pipeline.log"
        deadline = time.monotonic() + 480
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                if log.is_file() and _glue_run_started(log.read_text(errors="replace")):
                    break
                time.sleep(0.1)
            assert proc.poll() is None, "the run ended before its first Glue run:\n" + stdout.read_text()
            assert time.monotonic() < deadline, "no Glue run started within 480 s"
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    printed, errors = stdout.read_text(), stderr.read_text()

    assert code == 130, printed + errors
    # stderr holds the one line and nothing else: no Spark WARN lines, no log4j notes, no traceback.
    assert errors.strip().splitlines() == [errors.strip()], errors
    line = errors.strip()
    assert line.startswith("interrupted after ") and "while converting batches" in line, line
    assert "files completed" in line and f"of {FILES} files" in line and "batches finished" in line, line
    assert str((workdir / "logs").resolve()) in line and "run the same command again" in line, line
    assert printed.count("files tracked") == 1, printed  # the progress lines, once
    assert "Traceback" not in printed + errors
    spark_log = workdir / "logs" / "spark.log"
    assert spark_log.is_file()  # where the JVM's (and its workers') output went
