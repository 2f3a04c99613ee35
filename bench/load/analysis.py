"""The load run's numbers, from its own timestamps: uploads (botocore hook), tracking items, executions, Glue
runs, and calls per file / manifest / flush by caller."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.load.calls import COUNTER, FLUSH_SUFFIX, STATE_MACHINE
from bench.load.observe import LoadReporter, percentiles, to_epoch


def analyse(
    run: Any, files: list[Any], reporter: LoadReporter, durations: dict[str, list[float]]
) -> dict[str, Any]:
    """Timestamps from the run: the uploads (botocore hook), the tracking items, the executions, the Glue runs."""
    import boto3

    from pipeline.control_plane.domain.items import MANIFEST_KEY_PREFIX
    from pipeline.embedded.follow import scan
    from pipeline.ops.table_reads import STORED_STATUS, with_derived_status

    outputs = run.stack.outputs
    counts_during_run = COUNTER.by_actor()  # before this function's own reads
    put_answered = dict(COUNTER.put_answered)
    first_put = COUNTER.put_started or 0.0
    start_times = sorted(
        t for t in COUNTER.start_execution_times
    )  # StartExecution calls (the manifest builder's), sent times

    expected = {(outputs.input_bucket, outputs.input_prefix + f.key) for f in files}
    created: dict[tuple[str, str], float] = {}
    updated: dict[tuple[str, str], float] = {}
    statuses: Counter[str] = Counter()
    attributes = (
        "file_key", "bucket", "key", "status", "created_at", "updated_at", "date_prefix", "manifest_id",
        "completed_at",
    )  # fmt: skip
    tracked: list[dict[str, Any]] = []
    manifest_items: list[dict[str, Any]] = []
    for item in scan(outputs.tracking_table, attributes):  # the observer's read, counted apart
        if str(item.get("file_key", "")).startswith(MANIFEST_KEY_PREFIX):
            manifest_items.append(item)
        elif (str(item.get("bucket", "")), str(item.get("key", ""))) in expected:
            tracked.append(item)
    # Completion by reference: a file is final with its manifest, at the manifest's completed_at.
    completed_at = {
        (str(m.get("date_prefix")), str(m.get("manifest_id"))): m.get("completed_at") for m in manifest_items
    }
    for item in with_derived_status(tracked, manifest_items):
        key = (str(item.get("bucket", "")), str(item.get("key", "")))
        created[key] = to_epoch(item.get("created_at")) or 0.0
        by_reference = item.get(STORED_STATUS) != item.get("status")
        done = completed_at.get((str(item.get("date_prefix")), str(item.get("manifest_id"))))
        updated[key] = to_epoch(done if by_reference else item.get("updated_at")) or 0.0
        statuses[str(item.get("status"))] += 1

    sfn = boto3.client("stepfunctions")
    executions: list[Any] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=outputs.state_machine_arn):
        executions.extend(page["executions"])
    exec_starts = sorted(to_epoch(e["startDate"]) or 0.0 for e in executions)
    exec_stops = sorted(to_epoch(e.get("stopDate")) or 0.0 for e in executions if e.get("stopDate"))
    exec_status = Counter(e["status"] for e in executions)

    glue_runs = list(run.stack.glue_runner.runs) if run.stack.glue_runner else []
    reports = [r.report or {} for r in glue_runs if r.status == "SUCCEEDED"]

    n = len(files)
    last_put = max(put_answered.values()) if put_answered else first_put
    last_tracked = max(created.values()) if created else first_put
    last_completed = max(updated.values()) if updated else first_put
    lags = [created[k] - put_answered[k[1]] for k in created if k[1] in put_answered]
    tracking_seconds = last_tracked - first_put
    starts_while_tracking = [t for t in exec_starts if first_put <= t <= last_tracked]
    manifest_window = (exec_starts[-1] - exec_starts[0]) if len(exec_starts) > 1 else 0.0

    pipeline_actors = {
        a: ops
        for a, ops in counts_during_run.items()
        if a.startswith("lambda ") and not a.endswith(FLUSH_SUFFIX)
    }
    flush_actors = {a: ops for a, ops in counts_during_run.items() if a.endswith(FLUSH_SUFFIX)}
    flushes = sum(len(v) for k, v in durations.items() if k.endswith(FLUSH_SUFFIX))
    per_file: dict[str, dict[str, float]] = {}
    for actor, ops in sorted(
        {**pipeline_actors, STATE_MACHINE: counts_during_run.get(STATE_MACHINE, {})}.items()
    ):
        for op, data in ops.items():
            per_file.setdefault(op, {})[actor] = round(data["calls"] / n, 4)
    dynamodb_total: Counter[str] = Counter()
    for ops in pipeline_actors.values():
        for op, data in ops.items():
            if op.startswith("dynamodb:"):
                dynamodb_total[op.split(":", 1)[1]] += data["calls"]
    asl_dynamodb: Counter[str] = Counter(
        {
            op.split(":", 1)[1]: data["calls"]
            for op, data in counts_during_run.get(STATE_MACHINE, {}).items()
            if op.startswith("dynamodb:")
        }
    )
    manifests = len(executions)
    return {
        "rates": {
            "upload_seconds": round(last_put - first_put, 2),
            "upload_files_per_second": round(n / max(last_put - first_put, 1e-9), 1),
            "tracking_seconds": round(tracking_seconds, 2),
            "tracked_files_per_second": round(n / max(tracking_seconds, 1e-9), 1),
            "tracking_lag_seconds": percentiles(lags),
            "manifests": manifests,
            "manifests_started_while_tracking": len(starts_while_tracking),
            "manifests_per_minute_while_tracking": round(
                len(starts_while_tracking) / max(tracking_seconds, 1e-9) * 60, 1
            ),
            "manifests_per_minute_first_to_last_start": round((manifests - 1) / manifest_window * 60, 1)
            if manifest_window
            else None,
            "first_upload_to_last_manifest_started_seconds": round(exec_starts[-1] - first_put, 2)
            if exec_starts
            else None,
            "first_upload_to_all_completed_seconds": round(last_completed - first_put, 2),
            "first_upload_to_last_execution_stopped_seconds": round(exec_stops[-1] - first_put, 2)
            if exec_stops
            else None,
            "end_to_end_files_per_second": round(n / max(last_completed - first_put, 1e-9), 1),
            "start_execution_calls": len(start_times),
        },
        "file_status": dict(statuses),
        "executions": dict(exec_status),
        "glue": {
            "runs": len(glue_runs),
            "succeeded": sum(1 for r in glue_runs if r.status == "SUCCEEDED"),
            "seconds": round(sum(r.seconds for r in glue_runs), 1),
            "seconds_per_run": percentiles([r.seconds for r in glue_runs]),
            "queued_seconds_max": round(max((r.queued_seconds for r in glue_runs), default=0.0), 1),
            "records_in": sum(int(r.get("records_in", 0)) for r in reports),
            "records_out": sum(int(r.get("records_out", 0)) for r in reports),
            "bad_records": sum(int(r.get("bad_records", 0)) for r in reports),
            "failed_runs": [
                {"manifest_id": r.manifest_id, "status": r.status, "error": r.error}
                for r in glue_runs
                if r.status != "SUCCEEDED"
            ],
            "output_files": sum(
                len(r["output_files"])
                if isinstance(r.get("output_files"), list)
                else int(r.get("output_files", 0))
                for r in reports
            ),
        },
        "dynamodb_calls_per_file": {
            "pipeline_lambdas_total": round(sum(dynamodb_total.values()) / n, 4),
            "pipeline_lambdas_by_operation": {
                op: round(c / n, 4) for op, c in sorted(dynamodb_total.items())
            },
            "state_machine_by_operation": {op: round(c / n, 4) for op, c in sorted(asl_dynamodb.items())},
            "including_scheduled_flushes": round(
                (
                    sum(dynamodb_total.values())
                    + sum(
                        d["calls"]
                        for ops in flush_actors.values()
                        for op, d in ops.items()
                        if op.startswith("dynamodb:")
                    )
                )
                / n,
                4,
            ),
            "pipeline_total_with_state_machine": round(
                (sum(dynamodb_total.values()) + sum(asl_dynamodb.values())) / n, 4
            ),
        },
        "calls_per_file_by_operation_and_caller": per_file,
        "scheduled_flush": {
            "invocations": flushes,
            "calls_per_flush": {
                op: round(data["calls"] / max(flushes, 1), 2)
                for ops in flush_actors.values()
                for op, data in sorted(ops.items())
            },
            "seconds": percentiles(
                [v for k, vs in durations.items() if k.endswith(FLUSH_SUFFIX) for v in vs]
            ),
        },
        "calls_per_manifest": {
            op: {actor: round(c * n / max(manifests, 1), 2) for actor, c in actors.items()}
            for op, actors in per_file.items()
            if op.startswith(("sfn:", "glue:", "lambda:"))
        },
        "milliseconds_per_call_pipeline_lambdas": {
            op: round(
                1000
                * sum(ops[op]["seconds"] for ops in pipeline_actors.values() if op in ops)
                / sum(ops[op]["calls"] for ops in pipeline_actors.values() if op in ops),
                1,
            )
            for op in sorted({op for ops in pipeline_actors.values() for op in ops})
        },
        "calls": counts_during_run,
        "lambda_invocations": {
            name: {
                "count": len(values),
                "seconds": percentiles(values),
                "total_seconds": round(sum(values), 1),
            }
            for name, values in sorted(durations.items())
        },
        "poller": run.stack.poller.stats.as_dict() if run.stack.poller else {},
        "observer": {
            "snapshots": len(reporter.timeline),
            "snapshot_interval_seconds": percentiles(
                [b["t"] - a["t"] for a, b in zip(reporter.timeline, reporter.timeline[1:], strict=False)]
            ),
        },
        "timeline": _thin_timeline(reporter.timeline, first_put),
    }


def _thin_timeline(timeline: list[dict[str, Any]], origin: float, step: float = 10.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_t = origin
    for point in timeline:
        if point["t"] >= next_t or point is timeline[-1]:
            out.append({**point, "t": round(point["t"] - origin, 1)})
            next_t = point["t"] + step
    return out
