"""`pipeline up`: the embedded stack stays live for files a user drops with boto3 (or the AWS CLI).

The real command runs in a subprocess (its own JVM, embedded AWS and Terraform apply). The test waits for the
endpoint it prints, reads the stack outputs file it names, puts two NDJSON objects (one with a corrupt line) into
the input bucket through the endpoint, and waits until the output bucket holds that date's Parquet, which it reads
back; the tracking table shows the files `completed`. Then Ctrl-C (SIGINT) stops it with exit status 0.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess, TableRef, load_table, open_catalog
from pipeline.embedded.server import free_port
from pipeline.ops.table_reads import read_date

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-11-21"
READY = "Press Ctrl-C to stop."


def _lines(name: str, rows: int) -> bytes:
    events = [
        {"event_id": f"{name}-{i}", "ts": f"{DAY}T10:{i % 60:02d}:00Z", "user": {"id": i}, "amount": i * 1.5}
        for i in range(rows)
    ]
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


class _Output:
    """The command's stdout, read in a thread so the test can wait for a line without blocking."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"{text!r} not printed within {timeout} s:\n{''.join(self.seen)[-4000:]}")

    def value_after(self, marker: str) -> str:
        for line in self.seen:
            if marker in line:
                return line.split(marker, 1)[1].strip()
        raise AssertionError(f"no line with {marker!r}:\n{''.join(self.seen)[-4000:]}")


def _output(outputs: dict[str, Any], name: str) -> Any:
    value = outputs[name]
    return value["value"] if isinstance(value, dict) and "value" in value else value


def test_up_keeps_the_pipeline_live_for_dropped_files_until_ctrl_c(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    port = free_port()
    command = [sys.executable, "-m", "pipeline", "up", "--workdir", str(workdir), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--flush-interval", "2"],
        cwd=REPO,
        env={**os.environ, "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(proc)
    try:
        output.wait_for(READY, timeout=420)
        endpoint = output.value_after("export AWS_ENDPOINT_URL=")
        assert endpoint == f"http://127.0.0.1:{port}"
        outputs = json.loads(Path(output.value_after("export PIPELINE_STACK_OUTPUTS=")).read_text())
        # IAM is enforced: the printed keys are the harness-only admin's (docs/iam.md).
        access_key = output.value_after("export AWS_ACCESS_KEY_ID=").split()[0]
        secret_key = output.value_after("AWS_SECRET_ACCESS_KEY=").split()[0]
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name="us-east-1"
        )
        s3 = session.client("s3", endpoint_url=endpoint)
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        bucket = _output(outputs, "input_bucket")
        prefix = _output(outputs, "input_prefix") or ""
        s3.put_object(Bucket=bucket, Key=f"{prefix}{DAY}/a.ndjson", Body=_lines("a", 30))
        s3.put_object(Bucket=bucket, Key=f"{prefix}{DAY}/b.ndjson", Body=_lines("b", 20) + b"{not json\n")

        lake_bucket, _, lake_prefix = _output(outputs, "output_path").removeprefix("s3://").partition("/")
        table = _output(outputs, "tracking_table_name")
        deadline = time.monotonic() + 240
        rows: list[dict[str, Any]] = []
        statuses: list[str] = []
        while time.monotonic() < deadline:
            statuses = sorted(str(i["status"]) for i in read_date(dynamodb, table, DAY).files)  # as derived
            if statuses == ["completed", "completed"]:
                # the committed Iceberg table, through the embedded Glue catalog (as Athena reads it)
                ref = TableRef(
                    _output(outputs, "glue_database_name"),
                    _output(outputs, "glue_table_name"),
                    f"s3://{lake_bucket}/{lake_prefix}".rstrip("/"),
                )
                access = CatalogAccess(endpoint, endpoint, "us-east-1", access_key, secret_key)
                lake = load_table(open_catalog(ref, access), ref)
                assert lake is not None
                rows = lake.scan(row_filter=f"dt == '{DAY}'").to_arrow().to_pylist()
                break
            time.sleep(2)
        assert statuses == ["completed", "completed"], f"files not converted in time: {statuses}"
        assert sorted(r["event_id"] for r in rows) == sorted(
            [f"a-{i}" for i in range(30)] + [f"b-{i}" for i in range(20)]
        )
        assert {r["user"]["id"] for r in rows} == set(range(30))
        assert all(r["_source_file"].startswith(f"s3://{bucket}/") for r in rows)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    output.wait_for("stopping", timeout=5)
    assert code == 0, "".join(output.seen)[-4000:]
