"""Control-plane benchmark (run on demand, not part of the test suite).

One date already holds BACKLOG completed files; NEW files then arrive in SQS-sized batches (10 messages) through
the manifest builder's handler, and every started manifest gets its status update. DynamoDB calls, items read
and consumed capacity are counted from the botocore responses; Step Functions calls per manifest; peak memory
allocated during an invocation (tracemalloc, sampled).

    .venv/bin/python bench/control_plane.py [--backlog 100000] [--new 10000] [--batch 100]

Writes bench/results/control_plane.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3
from aws_lambda_powertools import Logger
from moto import mock_aws

from pipeline.control_plane.adapters.tracking_schema import create_tracking_table
from pipeline.control_plane.bootstrap import build_app, handle_event
from pipeline.control_plane.config import ControlPlaneConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DAY = "2026-11-20"
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READ_OPS = {"Query", "GetItem", "Scan", "BatchGetItem"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Context:
    function_name: str = "manifest-builder"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:manifest-builder"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class Meter:
    """Counts calls, items read and consumed capacity from botocore responses."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        self.items_written = 0
        self.rcu = 0.0
        self.wcu = 0.0

    def attach(self, client: Any, prefix: str) -> None:
        client.meta.events.register(f"after-call.{prefix}", self._after)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        self.calls[name] += 1
        if name in ("Query", "Scan"):
            self.items_read += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif name == "GetItem":
            self.items_read += 1 if parsed.get("Item") else 0
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units = float(entry.get("CapacityUnits", 0))
            if name in READ_OPS:
                self.rcu += units
            else:
                self.wcu += units

    def write_calls(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITE_OPS)

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "write_calls": self.write_calls(),
            "items_read": self.items_read,
            "rcu": round(self.rcu, 1),
            "wcu": round(self.wcu, 1),
        }


def load_backlog(ddb: Any, table: str, count: int, batch: int) -> float:
    started = time.perf_counter()
    created = "2026-11-20T01:00:00.000000Z"
    ttl = {"N": str(int((datetime(2026, 11, 20, tzinfo=UTC) + timedelta(days=30)).timestamp()))}
    for start in range(0, count, 25):
        requests = []
        for i in range(start, min(start + 25, count)):
            manifest_id = f"{DAY}-010000-{i // batch:012x}"
            key = f"raw/{DAY}/old-{i:06d}.ndjson"
            requests.append(
                {
                    "PutRequest": {
                        "Item": {
                            "date_prefix": {"S": DAY},
                            "file_key": {"S": f"F#input/{key}#old{i}"},
                            "status": {"S": "completed"},
                            "bucket": {"S": "input"},
                            "key": {"S": key},
                            "size": {"N": "1000"},
                            "etag": {"S": f"old{i}"},
                            "manifest_id": {"S": manifest_id},
                            "created_at": {"S": created},
                            "updated_at": {"S": created},
                            "ttl": ttl,
                        }
                    }
                }
            )
        ddb.batch_write_item(RequestItems={table: requests})
    return time.perf_counter() - started


def s3_message(key: str, size: int, etag: str) -> dict[str, Any]:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2026-11-22T04:59:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "input"}, "object": {"key": quote_plus(key), "size": size, "eTag": etag}},
    }
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": json.dumps({"Records": [record]}),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
        "awsRegion": "us-east-1",
    }


def run(backlog: int, new: int, batch: int, shards: int) -> dict[str, Any]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        ddb = session.client("dynamodb")
        create_tracking_table(ddb, "tracking")
        session.client("s3").create_bucket(Bucket="manifests")
        machine = session.client("stepfunctions").create_state_machine(
            name="ndjson-to-parquet",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        load_seconds = load_backlog(ddb, "tracking", backlog, batch)
        print(f"  backlog of {backlog:,} loaded in {load_seconds:.0f} s", file=sys.stderr)

        config = ControlPlaneConfig(
            tracking_table="tracking",
            manifest_bucket="manifests",
            state_machine_arn=machine,
            max_files_per_manifest=batch,
            max_bytes_per_manifest=10**12,
            pending_shards=shards,
        )
        app = build_app(
            config, session=session, logger=Logger(service="bench", level="WARNING"), clock=Clock()
        )
        ingest = Meter()
        ingest.attach(app.service.table._client, "dynamodb")
        sfn = Meter()
        sfn.attach(app.service.executions._client, "sfn")

        peaks: list[int] = []
        durations: list[float] = []
        started_ids: list[str] = []
        for n, start in enumerate(range(0, new, 10)):
            event = {
                "Records": [
                    s3_message(f"raw/{DAY}/new {i:06d}.ndjson", 2000 + i % 500, f"new{i}")
                    for i in range(start, min(start + 10, new))
                ]
            }
            sample = n % 25 == 0
            if sample:
                tracemalloc.start()
            t0 = time.perf_counter()
            response = handle_event(app, event, Context())
            durations.append(time.perf_counter() - t0)
            if sample:
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            assert response == {"batchItemFailures": []}, response
            if n % 100 == 99:
                print(
                    f"  {start + 10:,} new files in, {sfn.calls['StartExecution']} manifests", file=sys.stderr
                )
        manifests = sfn.calls["StartExecution"]
        ingest_snapshot = ingest.snapshot()

        # status updates of every started manifest (the state machine's part of the steady path)
        complete = Meter()  # the ingest snapshot above is final; this meter counts only the status updates
        complete.attach(app.service.table._client, "dynamodb")
        items = ddb.query(
            TableName="tracking",
            KeyConditionExpression="date_prefix = :d AND begins_with(file_key, :m)",
            ExpressionAttributeValues={":d": {"S": DAY}, ":m": {"S": "MANIFEST#"}},
        )["Items"]
        started_ids = [i["manifest_id"]["S"] for i in items]
        for manifest_id in started_ids:
            handle_event(
                app,
                {"action": "complete", "manifest_id": manifest_id, "date_prefix": DAY, "status": "completed"},
                Context(),
            )
        complete_snapshot = complete.snapshot()

    files_in_manifests = new - (new % batch)
    return {
        "backlog_completed_files": backlog,
        "new_files": new,
        "sqs_batch_size": 10,
        "max_files_per_manifest": batch,
        "pending_shards": shards,
        "backlog_load_seconds": round(load_seconds, 1),
        "manifests_started": manifests,
        "manifest_items": len(started_ids),
        "ingest": ingest_snapshot,
        "complete": complete_snapshot,
        "dynamodb_write_calls_per_file_ingest": round(ingest_snapshot["write_calls"] / new, 3),
        "dynamodb_write_calls_per_file_with_status_update": round(
            (ingest_snapshot["write_calls"] + complete_snapshot["write_calls"]) / new, 3
        ),
        "items_read_per_new_file": round(ingest_snapshot["items_read"] / new, 3),
        "items_read_per_manifest": round(ingest_snapshot["items_read"] / max(manifests, 1), 1),
        "items_read_per_manifest_status_update": round(
            complete_snapshot["items_read"] / max(manifests, 1), 1
        ),
        "stepfunctions_calls_per_manifest": round(sum(sfn.calls.values()) / max(manifests, 1), 2),
        "files_in_manifests": files_in_manifests,
        "peak_traced_memory_per_invocation_kib": {
            "max": round(max(peaks) / 1024, 1),
            "median": round(statistics.median(peaks) / 1024, 1),
            "samples": len(peaks),
        },
        "invocation_seconds": {
            "median": round(statistics.median(durations), 4),
            "p99": round(sorted(durations)[int(len(durations) * 0.99) - 1], 4),
        },
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Control-plane benchmark",
        "",
        f"Run {results['ran_at']} on {results['machine']} against moto in-process. Call and item counts are "
        "exact; timings and ConsumedCapacity are moto's, not DynamoDB's (moto scans the whole table for every "
        "query, which is why a big backlog makes this run slow, not the code under test). Goals: at most 2.5 "
        "DynamoDB write calls per file on the steady path, status update included (issue 17), items read per "
        "manifest at most 2x the batch size, whatever the backlog.",
        "",
        "Steady path per new file: 1 conditional PutItem (track), 1 conditional UpdateItem (claim), and per "
        "invocation 1 counter ADD per date (0.1 per file with 10-message SQS batches); per manifest a CLAIM put and "
        "delete, the lease take and release, the MANIFEST record and the counter decrement. The state machine's "
        "status update then adds 1 conditional UpdateItem per manifest and none per file (completion by "
        "reference: a file reads as its manifest's final status, docs/scaling.md#dynamodb-writes-per-file).",
        "",
        "| backlog (completed files) | new files | manifests | write calls / file (ingest) | "
        "write calls / file (+ status update) | items read / new file | items read / manifest | "
        "items read / manifest (status update) | SFN calls / manifest | peak memory / invocation (KiB, max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run_ in results["runs"]:
        lines.append(
            f"| {run_['backlog_completed_files']:,} | {run_['new_files']:,} | {run_['manifests_started']} | "
            f"{run_['dynamodb_write_calls_per_file_ingest']} | "
            f"{run_['dynamodb_write_calls_per_file_with_status_update']} | {run_['items_read_per_new_file']} | "
            f"{run_['items_read_per_manifest']} | {run_['items_read_per_manifest_status_update']} | "
            f"{run_['stepfunctions_calls_per_manifest']} | "
            f"{run_['peak_traced_memory_per_invocation_kib']['max']} |"
        )
    lines += [
        "",
        "Peak memory is what one invocation allocates (tracemalloc, sampled every 25th invocation), moto's own "
        "allocations for the calls included.",
        "",
        "DynamoDB calls by operation (ingest path, then status updates):",
        "",
    ]
    for run_ in results["runs"]:
        lines.append(
            f"- backlog {run_['backlog_completed_files']:,}: ingest {run_['ingest']['calls']}; "
            f"status updates {run_['complete']['calls']}"
        )
    return "\n".join(lines) + "\n"


def rewrite_markdown() -> None:
    """Regenerate the .md from the .json (after editing ``markdown``)."""
    results = json.loads((RESULTS / "control_plane.json").read_text())
    (RESULTS / "control_plane.md").write_text(markdown(results))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without backlog")
    args = parser.parse_args(argv)
    runs = []
    for backlog in ([] if args.no_baseline else [0]) + [args.backlog]:
        print(f"backlog {backlog:,}: running ...", file=sys.stderr)
        runs.append(run(backlog, args.new, args.batch, args.shards))
        print(json.dumps(runs[-1], indent=1), file=sys.stderr)
    results = {
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": runs,
        "goals": {
            "write_calls_per_file_max": 3,
            "items_read_per_manifest_max": 2 * args.batch,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "control_plane.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "control_plane.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
