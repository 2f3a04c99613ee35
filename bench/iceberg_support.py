"""What the Iceberg benchmarks share: a moto server (Glue catalog + S3) in this process, a counter of the requests
it serves (S3 by method, Glue by operation), a job-like table, and the results files.

S3 requests come from pyarrow (C++) and Glue calls from boto3 inside pyiceberg, so both are counted where they
arrive: the moto server's request log (werkzeug: one line per request) for S3, a botocore `before-call` hook on
the catalog's Glue client for Glue operations (the log's `POST /` lines are the same calls, uncounted by name).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BUCKET = "bench-lake"
DATABASE = "bench"
LOCATION = f"s3://{BUCKET}/lake"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_REQUEST = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/')


class RequestCounter(logging.Handler):
    """Counts the moto server's requests: S3 ones (`/<bucket>/...`) by method, the rest as `other`."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.s3: Counter[str] = Counter()
        self.other = 0

    def emit(self, record: logging.LogRecord) -> None:
        match = _REQUEST.search(record.getMessage())
        if not match:
            return
        method, path = match.groups()
        if path.startswith(f"/{BUCKET}"):
            self.s3[method] += 1
        else:
            self.other += 1


class GlueCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


@contextmanager
def moto_stack() -> Iterator[tuple[str, RequestCounter]]:
    """A moto server with the bucket and the Glue database; the environment points the job's code at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    from pipeline.embedded.server import free_port

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ[name] = value
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=True)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    counter = RequestCounter()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    werkzeug.handlers = [counter]
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    boto3.client("glue", endpoint_url=endpoint).create_database(DatabaseInput={"Name": DATABASE})
    try:
        yield endpoint, counter
    finally:
        server.stop()


def job_args(*extra: str) -> Any:
    from glue_jobs.ndjson_to_parquet.args import parse_job_args

    return parse_job_args(
        [
            *("--JOB_NAME", "bench", "--MANIFEST_PATH", "unused", "--OUTPUT_PATH", LOCATION),
            *("--COMPRESSION_TYPE", "zstd", "--TABLE_FORMAT", "iceberg", "--CATALOG_DATABASE", DATABASE),
            *extra,
        ]
    )


def commit_id() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_header() -> dict[str, Any]:
    import pyiceberg

    return {
        "commit": commit_id(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "pyiceberg": pyiceberg.__version__,
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def save(name: str, result: dict[str, Any], markdown: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text("\n".join(markdown) + "\n")
    print(f"wrote bench/results/{name}.json and {name}.md", flush=True)
