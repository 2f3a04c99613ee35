"""bench/results/embedded_load.md from the results document: one column per configuration."""

from __future__ import annotations

from typing import Any

from bench.load.calls import FLUSH_SUFFIX, OBSERVER, POLLER, STATE_MACHINE


def markdown(document: dict[str, Any]) -> str:
    runs = document["runs"]
    lines = [
        "# Load run on the embedded stack",
        "",
        f"{document['date']}, {document['machine']}. Command: `{document['command']}`.",
        "",
        "Each column is one run of the real embedded path (`PipelineRun`, as `pipeline demo` / `pipeline run`): "
        "Terraform-applied stack in moto's server, S3 -> SQS -> poller -> manifest builder Lambda -> Step Functions "
        "(moto's ASL interpreter) -> Glue job on local Spark -> status-update Lambda, all in one process on "
        "2 cores. Rates are this machine's and moto's, not AWS's; call counts per file are the code's and carry "
        "over to AWS.",
        "",
        "| | "
        + " | ".join(f"{r['configuration']['max_files_per_manifest']} files / manifest" for r in runs)
        + " |",
        "| --- | " + " | ".join("---:" for _ in runs) + " |",
    ]

    def row(label: str, fn: Any) -> None:
        values = []
        for r in runs:
            try:
                value = fn(r)
            except (KeyError, TypeError, IndexError):
                value = "n/a"
            values.append(f"{value:,}" if isinstance(value, int) else str(value))
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row(
        "files (one date) / lines / MB",
        lambda r: f"{r['input']['files']:,} / {r['input']['lines']:,} / {r['input']['bytes'] / 1e6:.1f}",
    )
    row(
        "upload: seconds / files per second",
        lambda r: f"{r['rates']['upload_seconds']} / {r['rates']['upload_files_per_second']}",
    )
    row("tracked: first upload -> all tracked (s)", lambda r: r["rates"]["tracking_seconds"])
    row("**files tracked per second**", lambda r: f"**{r['rates']['tracked_files_per_second']}**")
    row(
        "tracking lag per file, p50 / p95 / max (s)",
        lambda r: "{p50} / {p95} / {max}".format(**r["rates"]["tracking_lag_seconds"]),
    )
    row("manifests (executions)", lambda r: r["rates"]["manifests"])
    row(
        "manifest sizes (files: count)",
        lambda r: ", ".join(f"{k}: {v}" for k, v in r["manifest_sizes"].items()),
    )
    row(
        "**manifests started per minute while files were tracked**",
        lambda r: f"**{r['rates']['manifests_per_minute_while_tracking']}**",
    )
    row(
        "manifests per minute, first to last start",
        lambda r: r["rates"]["manifests_per_minute_first_to_last_start"],
    )
    row(
        "first upload -> last manifest started (s)",
        lambda r: r["rates"]["first_upload_to_last_manifest_started_seconds"],
    )
    row(
        "**first upload -> every file completed (s)**",
        lambda r: f"**{r['rates']['first_upload_to_all_completed_seconds']}**",
    )
    row("end-to-end files per second", lambda r: r["rates"]["end_to_end_files_per_second"])
    row(
        "Glue runs / seconds in runs / median s per run",
        lambda r: f"{r['glue']['runs']} / {r['glue']['seconds']} / {r['glue']['seconds_per_run'].get('p50')}",
    )
    row(
        "records in / out / quarantined",
        lambda r: (
            f"{r['glue']['records_in']:,} / {r['glue']['records_out']:,} / {r['glue']['bad_records']:,}"
        ),
    )
    row(
        "**DynamoDB calls per file (both Lambdas)**",
        lambda r: f"**{r['dynamodb_calls_per_file']['pipeline_lambdas_total']}**",
    )
    for op in sorted(
        {op for r in runs for op in r["dynamodb_calls_per_file"]["pipeline_lambdas_by_operation"]}
    ):
        row(
            f"&nbsp;&nbsp;{op} per file",
            lambda r, op=op: r["dynamodb_calls_per_file"]["pipeline_lambdas_by_operation"].get(op, 0),
        )
    row(
        "DynamoDB calls per file, scheduled flushes included",
        lambda r: r["dynamodb_calls_per_file"]["including_scheduled_flushes"],
    )
    row(
        "+ state machine's DynamoDB calls per file",
        lambda r: ", ".join(
            f"{k} {v}" for k, v in r["dynamodb_calls_per_file"]["state_machine_by_operation"].items()
        ),
    )
    row(
        "SQS calls per file (poller: receive / delete batch)",
        lambda r: "{} / {}".format(
            round(r["calls"][POLLER]["sqs:ReceiveMessage"]["calls"] / r["input"]["files"], 3),
            round(r["calls"][POLLER]["sqs:DeleteMessageBatch"]["calls"] / r["input"]["files"], 3),
        ),
    )
    row(
        "StartExecution calls per manifest",
        lambda r: round(r["rates"]["start_execution_calls"] / max(r["rates"]["manifests"], 1), 2),
    )
    row(
        "ms per DynamoDB call in the Lambdas (moto, in process): PutItem / UpdateItem / Query",
        lambda r: " / ".join(
            str(r["milliseconds_per_call_pipeline_lambdas"].get(f"dynamodb:{op}", "n/a"))
            for op in ("PutItem", "UpdateItem", "Query")
        ),
    )
    row(
        "GetJobRun polls by the state machine (per manifest)",
        lambda r: round(
            r["calls"][STATE_MACHINE]["glue:GetJobRun"]["calls"] / max(r["rates"]["manifests"], 1), 1
        ),
    )
    row(
        "manifest builder invocations on SQS batches / median ms",
        lambda r: "{} / {}".format(
            r["lambda_invocations"][_builder(r)]["count"],
            round(r["lambda_invocations"][_builder(r)]["seconds"]["p50"] * 1000),
        ),
    )
    row(
        "scheduled flushes / DynamoDB calls per flush / median ms",
        lambda r: "{} / {} / {}".format(
            r["scheduled_flush"]["invocations"],
            round(
                sum(
                    v
                    for op, v in r["scheduled_flush"]["calls_per_flush"].items()
                    if op.startswith("dynamodb:")
                ),
                1,
            ),
            round(1000 * r["scheduled_flush"]["seconds"].get("p50", 0)),
        ),
    )
    row(
        "embedded AWS answers 500 (moto errors, retried by botocore)",
        lambda r: sum(r["moto_server_errors"].values()),
    )
    row(
        "moto SQS bridges in force (pipeline/embedded/bridges/)",
        lambda r: ", ".join(r["configuration"]["moto_patches"]) or "none",
    )
    row(
        "verification problems / DLQ depth",
        lambda r: f"{len(r['verification']['problems'])} / {r['verification']['dlq_messages']}",
    )
    row("files completed", lambda r: r["verification"]["files_completed"])
    row(
        "peak RSS: this process / process tree incl. JVM (MiB)",
        lambda r: (
            f"{r['memory']['peak_rss_process_mib']} / {r['memory']['peak_rss_process_tree_sampled_mib']}"
        ),
    )
    row(
        "load average before / after (1 min)",
        lambda r: f"{r['load_average']['before'][0]} / {r['load_average']['after'][0]}",
    )
    lines += [
        "",
        "Calls per file by caller (the benchmark's own observation excluded; state machine = the ASL's service "
        "integrations):",
        "",
    ]
    for r in runs:
        lines.append(f"- {r['configuration']['max_files_per_manifest']} files / manifest:")
        for op, actors in sorted(r["calls_per_file_by_operation_and_caller"].items()):
            lines.append(f"  - `{op}`: " + ", ".join(f"{a} {v}" for a, v in sorted(actors.items())))
        observer = r["calls"].get(OBSERVER, {})
        lines.append(
            "  - observer (not counted above): "
            + ", ".join(f"`{op}` {d['calls']} ({d['seconds']} s)" for op, d in sorted(observer.items()))
        )
        if r["verification"]["problems"]:
            lines.append("  - problems: " + "; ".join(r["verification"]["problems"]))
    return "\n".join(lines) + "\n"


def _builder(result: dict[str, Any]) -> str:
    names = [n for n in result["lambda_invocations"] if not n.endswith(FLUSH_SUFFIX)]
    return next((n for n in names if "manifest" in n or "builder" in n), names[0])
