"""The whole pipeline, end to end, on the embedded AWS: the README's main command on a small drop.

`pipeline demo` runs in a subprocess (as a user runs it: its own JVM, its own embedded AWS, Terraform applying the
project's stack) on a small drop: six files over two dates, corrupt lines, one schema change, one duplicate S3
notification, one gzip file. It keeps the embedded AWS up (`--keep-running`) so the test can inspect it through
boto3, then the test stops it with SIGINT (Ctrl-C) and checks it exits cleanly.

Checked independently of the command's own summary: the lake read back with DuckDB (rows per partition equal the
clean lines of that date's files), the quarantine (holds exactly the corrupt lines), the tracking table (every file
item `completed`, every MANIFEST item with its execution ARN and the job report's counts), the Glue job runs
(each received `--COMPRESSION_TYPE`), the Parquet footers (that codec), and the output bucket (mirrors the lake).
"""

from __future__ import annotations

import collections
import gzip
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
import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.embedded.server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]

REPO = Path(__file__).resolve().parents[2]
CODEC = "gzip"  # not the default (zstd): proves the CLI option reaches the job through Terraform


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        return [line.rstrip(b"\r\n") for line in handle if line.strip()]


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


class DemoProcess:
    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        env = {**os.environ, "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(key, None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "demo",
                "--workdir",
                str(workdir),
                "--files",
                "6",
                "--size-mb",
                "3",
                "--port",
                str(port),
                "--compression",
                CODEC,
                "--max-files-per-manifest",
                "2",
                "--keep-running",
                "--clean",
                "--summary-json",
                str(workdir / "summary-test.json"),
                "--timeout",
                "300",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            if text in line:
                return
        raise AssertionError(f"'{text}' not seen (exit {self.proc.poll()}):\n" + "".join(self.output[-80:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                log = self.workdir / "logs" / "pipeline.log"
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                raise AssertionError(
                    "no exit within 120 s of Ctrl-C; output and pipeline.log end with:\n"
                    + "".join(self.output[-20:])
                    + "\n".join(tail)
                ) from None
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Any:
    workdir = tmp_path_factory.mktemp("embedded") / "work"
    port = free_port()
    process = DemoProcess(workdir, port)
    try:
        process.wait_for("Press Ctrl-C to stop.", timeout=420)
        session = boto3.Session(
            aws_access_key_id="embedded", aws_secret_access_key="embedded", region_name="us-east-1"
        )
        endpoint = f"http://127.0.0.1:{port}"
        outputs = json.loads((workdir / "stack-outputs.json").read_text())
        summary = json.loads((workdir / "summary-test.json").read_text())
        yield {
            "workdir": workdir,
            "outputs": outputs,
            "summary": summary,
            "process": process,
            "client": lambda service: session.client(service, endpoint_url=endpoint),
        }
    finally:
        code = process.stop()
        print("".join(process.output[-60:]))
    assert code == 0, "".join(process.output[-40:])


def test_the_demo_accounts_for_every_line(demo):
    summary = demo["summary"]
    assert summary["ok"], summary["problems"]
    assert summary["files"] == 6 and summary["files_completed"] == 6
    assert summary["duplicate_notifications"] == 1
    assert summary["lines"] == summary["records_out"] + summary["quarantined"]
    assert summary["quarantined"] == summary["expected_bad_lines"] > 0
    for stage in ("aws_start", "terraform_apply", "tracking", "processing", "total"):
        assert summary["timings"][stage] > 0
    output = "".join(demo["process"].output)
    assert "Summary" in output and "Sample query" in output and "OK: every input line" in output


def test_lake_partitions_hold_exactly_the_clean_lines_of_their_date(demo):
    workdir: Path = demo["workdir"]
    clean: collections.Counter[str] = collections.Counter()
    bad: collections.Counter[str] = collections.Counter()
    for path in sorted((workdir / "input").rglob("*.ndjson*")):
        day = path.parent.name
        for line in _lines(path):
            (clean if _is_record(line) else bad)[day] += 1
    assert len(clean) == 2 and sum(bad.values()) > 0

    files = [str(p) for p in (workdir / "lake").rglob("*.parquet") if "_" not in p.parts[-2][:1]]
    con = duckdb.connect()
    rows = dict(
        con.execute(
            "SELECT CAST(dt AS VARCHAR), count(*) FROM read_parquet($files, hive_partitioning = true, "
            "union_by_name = true) GROUP BY 1",
            {"files": files},
        ).fetchall()
    )
    assert rows == dict(clean)
    # The schema change (second date's later files) is merged, not dropped.
    with_experiment = con.execute(
        "SELECT count(*) FROM read_parquet($files, union_by_name = true) WHERE experiment IS NOT NULL",
        {"files": files},
    ).fetchone()[0]
    assert with_experiment > 0
    sources = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT _source_file FROM read_parquet($files, union_by_name = true)", {"files": files}
        ).fetchall()
    }
    bucket = demo["outputs"]["input_bucket"]
    bucket = bucket["value"] if isinstance(bucket, dict) else bucket
    assert sources and all(s.startswith(f"s3://{bucket}/events/") for s in sources)

    quarantined = collections.Counter()
    for path in (workdir / "quarantine").rglob("*"):
        if path.is_file() and not path.name.startswith((".", "_")):
            day = next(part for part in path.parts if part.startswith("dt=")).removeprefix("dt=")
            quarantined[day] += len(_lines(path))
    assert quarantined == bad


def test_tracking_table_and_executions(demo):
    outputs = {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in demo["outputs"].items()
    }
    dynamodb = demo["client"]("dynamodb")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=outputs["tracking_table_name"]):
        items.extend(page["Items"])
    files = [i for i in items if i["file_key"]["S"].startswith("F#")]
    manifests = [i for i in items if i["file_key"]["S"].startswith("MANIFEST#")]
    assert len(files) == 6  # the duplicate notification did not create a second item
    assert {i["status"]["S"] for i in files} == {"completed"}
    assert len(manifests) >= 3  # two dates, at most two files per batch
    sfn = demo["client"]("stepfunctions")
    for item in manifests:
        assert item["status"]["S"] == "completed"
        arn = item["execution_arn"]["S"]
        assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        for count in ("records_in", "records_out", "bad_records"):
            assert int(item[count]["N"]) >= 0, count
        assert int(item["records_in"]["N"]) == int(item["records_out"]["N"]) + int(item["bad_records"]["N"])


def test_glue_runs_got_the_codec_and_the_footers_show_it(demo):
    outputs = {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in demo["outputs"].items()
    }
    glue = demo["client"]("glue")
    runs = glue.get_job_runs(JobName=outputs["glue_job_name"])["JobRuns"]
    assert runs and all(r["JobRunState"] == "SUCCEEDED" for r in runs)
    assert all(r["Arguments"]["--COMPRESSION_TYPE"] == CODEC for r in runs)
    parquet = [p for p in (demo["workdir"] / "lake").rglob("*.parquet")]
    assert parquet
    for path in parquet:
        metadata = pq.ParquetFile(path).metadata
        codecs = {
            metadata.row_group(g).column(c).compression
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        }
        assert codecs == {CODEC.upper()}, (path, codecs)
    # The output bucket holds what Glue would have written: the same Parquet files under the same keys.
    output_path = outputs["output_path"]
    bucket, _, prefix = output_path.removeprefix("s3://").partition("/")
    keys = []
    for page in demo["client"]("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    assert sorted(k.rsplit("/", 1)[-1] for k in keys if k.endswith(".parquet")) == sorted(
        p.name for p in parquet
    )
    assert any("/_reports/" in k for k in keys)


def test_catalog_has_the_table_and_one_partition_per_date(demo):
    """The status update registered every completed batch: Athena would find both dates with no crawler."""
    outputs = {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in demo["outputs"].items()
    }
    glue = demo["client"]("glue")
    database, table = outputs["glue_database_name"], outputs["glue_table_name"]
    described = glue.get_table(DatabaseName=database, Name=table)["Table"]
    assert [k["Name"] for k in described["PartitionKeys"]] == ["dt"]
    columns = {c["Name"] for c in described["StorageDescriptor"]["Columns"]}
    assert {"_source_file", "_manifest_id", "_ingested_at"} <= columns
    partitions = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    dates = sorted(p["Values"][0] for p in partitions)
    lake_dates = sorted(p.name.removeprefix("dt=") for p in (demo["workdir"] / "lake").glob("dt=*"))
    assert dates == lake_dates and len(dates) == 2
    for partition in partitions:
        assert partition["StorageDescriptor"]["Location"].rstrip("/").endswith(f"dt={partition['Values'][0]}")
