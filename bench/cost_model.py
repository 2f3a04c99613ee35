"""Cost and scale model of the pipeline at a given daily volume, from the measured numbers in bench/results/.

Inputs measured by the other benchmarks (read from their JSON results, not retyped):
- bench/results/control_plane.json: DynamoDB calls per file and per manifest (exact call counts of the real
  control-plane code against moto), Step Functions calls per manifest.
- bench/results/convert_vs_duckdb_scale1_fourth_pass.json (CONVERSION): the Glue job's conversion throughput
  (1 GiB of narrow NDJSON events on local[2], the job's own time: start-up is modelled apart) and the average
  NDJSON line size of that input (Firehose bills each record rounded up to 5 KB).

Everything else is an explicit assumption (ASSUMPTIONS below, with sources and dates); prices are us-east-1 list
prices. Run: `python bench/cost_model.py` -> bench/results/cost_model.json and cost_model.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
CONVERSION = "convert_vs_duckdb_scale1_fourth_pass.json"  # the conversion benchmark the throughput comes from
MB = 1_000_000

# Prices, us-east-1, list prices as published on the AWS pricing pages (checked 2026-11-22 against the pages'
# last known values; Glue Flex and Firehose added 2026-12-01; verify before budgeting). PRICE_SOURCES says where
# each comes from.
PRICES = {
    "glue_dpu_hour": 0.44,  # aws.amazon.com/glue/pricing: Spark jobs, per second, 1-minute minimum
    "glue_flex_dpu_hour": 0.29,  # same page: Flex execution class (per second, 1-minute minimum)
    "dynamodb_per_million_wru": 0.625,  # aws.amazon.com/dynamodb/pricing/on-demand (after the Nov 2024 cut)
    "dynamodb_per_million_rru": 0.125,
    "sqs_per_million_requests": 0.40,  # standard queue, beyond the free tier (64 KB chunks)
    "lambda_per_million_requests": 0.20,  # aws.amazon.com/lambda/pricing, x86
    "lambda_per_gb_second": 0.0000166667,
    "sfn_per_thousand_transitions": 0.025,  # Standard workflows
    "s3_per_thousand_put": 0.005,  # S3 Standard PUT/COPY/POST/LIST
    "s3_per_thousand_get": 0.0004,
    # aws.amazon.com/firehose/pricing, Direct PUT ingestion per GB, records rounded up to 5 KB, tiered per month:
    # (tier size in GB per month, price per GB); the last tier (None: the rest) is applied above 5 PB.
    "firehose_ingest_tiers": [
        (500 * 1024, 0.029),
        (1536 * 1024, 0.025),
        (3072 * 1024, 0.020),
        (None, 0.020),
    ],
    "firehose_format_conversion_per_gb": 0.018,  # same page: JSON to Parquet/ORC, per GB ingested (5 KB rounding)
}

PRICE_SOURCES = {
    "glue_dpu_hour": "aws.amazon.com/glue/pricing (us-east-1, Spark job, standard execution class); last known "
    "list value 0.44, checked 2026-11-22",
    "glue_flex_dpu_hour": "aws.amazon.com/glue/pricing (us-east-1, Flex execution class), 0.29 as given for "
    "us-east-1, 2026-12-01. Flex constraints: Glue API reference, Job.ExecutionClass ('Only jobs with Glue version "
    "3.0 and above and command type glueetl will be allowed to set ExecutionClass to FLEX'); Glue developer guide "
    "as quoted in aws/aws-cdk PR #26203 ('Flexible job runs are supported for jobs using AWS Glue version 3.0 or "
    "later and G.1X or G.2X worker types'); AWS Big Data Blog 'Introducing AWS Glue Flex jobs' (2022-08): spare "
    "capacity, start and run times vary, capacity can be reclaimed during a run",
    "dynamodb": "aws.amazon.com/dynamodb/pricing/on-demand, checked 2026-11-22",
    "sqs_lambda_sfn_s3": "aws.amazon.com/sqs|lambda|step-functions|s3/pricing, checked 2026-11-22",
    "firehose": "aws.amazon.com/firehose/pricing (us-east-1), 2026-12-01: the page's text (stored copies found by "
    "search) states ingestion 'per GB ingested in 5 KB increments (a 3 KB record is billed as 5 KB, a 12 KB "
    "record as 15 KB)' and format conversion 'per GB ingested in 5 KB increments'; its price table renders "
    "dynamically, so the rates are the last known list values (ingestion 0.029/0.025/0.020 per GB for the first "
    "500 TB / next 1.5 PB / next 3 PB a month; format conversion 0.018 per GB): verify before budgeting",
}

ASSUMPTIONS = {
    "file_bytes": 10 * MB,
    "max_files_per_manifest": 100,  # terraform default
    "max_bytes_per_manifest": 1024**3,  # terraform default (scenarios may raise it)
    "max_batch_wait_seconds": 300,  # terraform default
    "flush_interval_seconds": 300,  # terraform default rate(5 minutes)
    "sqs_batch_size": 10,  # terraform default
    "glue_workers": 2,  # terraform default: G.1X x 2 = 1 driver + 1 executor (4 task slots)
    "glue_task_slots_per_executor": 4,  # G.1X: 4 vCPU, 16 GB
    "glue_startup_seconds": 30,  # Glue 5.0 start-up + JVM, billed; typical published range 10-60 s
    "glue_efficiency": 0.5,  # per-vCPU rate on Glue vs the measured local per-core rate (S3 I/O, stragglers)
    "peak_to_average": 3.0,  # busiest hour vs the daily average, for hot-key headroom
    "item_bytes": 600,  # file item with its key (F#<bucket>/<key>#<etag>), < 1 KB: 1 WRU per write
    "gsi_writes_per_file": 3,  # pending-index put (track) + delete (claim); manifest-index put (claim); no file write at completion (by reference)
    "lambda_ms_per_invocation": 300,  # assumption (moto timings are not Lambda's); 512 MB memory
    "lambda_memory_gb": 0.5,
    "sqs_idle_receives_per_day": 5 * 3 * 1440,  # ESM: ~5 long pollers x 3 empty 20 s receives a minute
    "sfn_transitions_per_execution": 5,  # MarkProcessing, RunGlueJob, ReadJobReport, MarkCompleted, Converted
    "dynamodb_partition_wcu": 1000,  # per partition (docs: "Partitions in DynamoDB", warm-throughput scenarios)
    "dynamodb_partition_rcu": 3000,
    "pending_shards": 4,
    "replaced_system_files_per_run": 10,
    "days_per_month": 365 / 12,  # Firehose tiers are per month
    "firehose_record_unit_bytes": 5 * 1024,  # ingestion and conversion bill each record rounded up to 5 KB
    "firehose_packed_record_bytes": 1000 * 1024,  # Firehose's maximum record size, for the packed variant
}


@dataclass
class Scenario:
    files_per_day: int
    files_per_manifest: int
    glue_workers: int
    max_bytes_per_manifest: int = 1024**3


def measured() -> dict[str, float]:
    control = json.loads((RESULTS / "control_plane.json").read_text())["runs"][0]
    conversion = json.loads((RESULTS / CONVERSION).read_text())
    cores = conversion["machine"]["cpus"]
    narrow = conversion["cases"]["narrow"]
    job_seconds = narrow["job"]["job_seconds"]  # median of the alternating runs, the job's own report
    input_mb = narrow["input"]["bytes"] / MB
    return {
        "ddb_write_calls_per_file": control["dynamodb_write_calls_per_file_with_status_update"],
        "ddb_ingest_write_calls_per_file": control["dynamodb_write_calls_per_file_ingest"],
        "ddb_items_read_per_file": control["items_read_per_new_file"]
        + control["items_read_per_manifest_status_update"] / control["max_files_per_manifest"],
        "ddb_queries_per_manifest": (
            control["ingest"]["calls"].get("Query", 0) + control["complete"]["calls"].get("Query", 0)
        )
        / control["manifests_started"],
        "ddb_manifest_overhead_writes": (
            control["ingest"]["write_calls"] + control["complete"]["write_calls"]
        )
        / control["manifests_started"]
        - 2 * control["max_files_per_manifest"],  # per file: track and claim (completion writes no file)
        "sfn_calls_per_manifest": control["stepfunctions_calls_per_manifest"],
        "glue_mb_per_s_per_core": input_mb / job_seconds / cores,
        "ndjson_bytes_per_line": narrow["input"]["bytes"] / narrow["input"]["lines"],
        "glue_measured_mb": input_mb,
        "glue_measured_seconds": job_seconds,
    }


def firehose_usd_per_day(
    input_bytes_per_day: float, record_bytes: float, a: dict[str, Any] = ASSUMPTIONS
) -> dict:
    """Firehose Direct PUT with record-format conversion for the same NDJSON: every record is billed rounded up to
    5 KB, for ingestion (tiered per month) and again for the conversion."""
    unit = a["firehose_record_unit_bytes"]
    records = input_bytes_per_day / record_bytes
    billed_gb_per_day = records * math.ceil(record_bytes / unit) * unit / 1024**3
    monthly_gb = billed_gb_per_day * a["days_per_month"]
    ingest_monthly, floor_gb = 0.0, 0.0
    for tier_gb, price in PRICES["firehose_ingest_tiers"]:
        size = math.inf if tier_gb is None else tier_gb
        in_tier = min(monthly_gb, floor_gb + size) - floor_gb
        if in_tier <= 0:
            break
        ingest_monthly += in_tier * price
        floor_gb += size
    return {
        "records_per_day": records,
        "billed_gb_per_day": billed_gb_per_day,
        "ingestion": ingest_monthly / a["days_per_month"],
        "format_conversion": billed_gb_per_day * PRICES["firehose_format_conversion_per_gb"],
    }


def model(s: Scenario, m: dict[str, float], a: dict[str, Any] = ASSUMPTIONS) -> dict[str, Any]:
    p = PRICES
    files_per_manifest = min(s.files_per_manifest, s.max_bytes_per_manifest // a["file_bytes"])
    runs = math.ceil(s.files_per_day / files_per_manifest)
    batch_mb = files_per_manifest * a["file_bytes"] / MB
    slots = (s.glue_workers - 1) * a["glue_task_slots_per_executor"]
    rate = slots * m["glue_mb_per_s_per_core"] * a["glue_efficiency"]
    run_seconds = a["glue_startup_seconds"] + batch_mb / rate
    billed_seconds = max(60.0, run_seconds)
    dpu_hours = runs * s.glue_workers * billed_seconds / 3600
    files_per_s = s.files_per_day / 86400
    fill_seconds = files_per_manifest / files_per_s
    concurrent_runs = runs / 86400 * run_seconds

    write_calls = s.files_per_day * m["ddb_write_calls_per_file"]
    wru = write_calls + s.files_per_day * a["gsi_writes_per_file"]  # items < 1 KB: 1 WRU per item written
    read_items = s.files_per_day * m["ddb_items_read_per_file"]
    rru = read_items * 300 / 4096 / 2 + runs * m["ddb_queries_per_manifest"]  # ~300 B projected, eventually
    invocations = s.files_per_day / a["sqs_batch_size"] + runs + 86400 / a["flush_interval_seconds"]
    sqs_requests = s.files_per_day * (1 + 2 / a["sqs_batch_size"]) + a["sqs_idle_receives_per_day"]
    transitions = runs * a["sfn_transitions_per_execution"]
    s3_puts = runs * 3 + s.files_per_day / files_per_manifest  # manifest, report, Parquet, quarantine
    s3_gets = s.files_per_day + runs * 3

    cost = {
        "glue": dpu_hours * p["glue_dpu_hour"],
        "glue_flex": dpu_hours * p["glue_flex_dpu_hour"],
        "dynamodb": wru / 1e6 * p["dynamodb_per_million_wru"] + rru / 1e6 * p["dynamodb_per_million_rru"],
        "sqs": sqs_requests / 1e6 * p["sqs_per_million_requests"],
        "lambda": invocations / 1e6 * p["lambda_per_million_requests"]
        + invocations
        * a["lambda_ms_per_invocation"]
        / 1000
        * a["lambda_memory_gb"]
        * p["lambda_per_gb_second"],
        "step_functions": transitions / 1000 * p["sfn_per_thousand_transitions"],
        "s3_requests": s3_puts / 1000 * p["s3_per_thousand_put"] + s3_gets / 1000 * p["s3_per_thousand_get"],
    }
    peak_files_per_s = files_per_s * a["peak_to_average"]
    # Hot keys (per second, at peak): the base table's date partition takes 2 writes per file (track, claim; the
    # status update writes only the MANIFEST item) until DynamoDB splits it for heat by sort key; each
    # pending-index shard 2 writes per file / shards; the META#PENDING counter item one ADD per invocation and
    # date plus one per manifest.
    hot = {
        "date_partition_wcu_at_peak": peak_files_per_s * 2,
        "pending_shard_wcu_at_peak": peak_files_per_s * 2 / a["pending_shards"],
        "counter_item_wcu_at_peak": peak_files_per_s / a["sqs_batch_size"]
        + peak_files_per_s / files_per_manifest,
        "open_claims_key_wcu_at_peak": 2 * peak_files_per_s / files_per_manifest,
        "pending_index_ceiling_files_per_s": a["dynamodb_partition_wcu"] * a["pending_shards"] / 2,
        "counter_ceiling_files_per_s": a["dynamodb_partition_wcu"]
        / (1 / a["sqs_batch_size"] + 1 / files_per_manifest),
    }
    others = sum(v for k, v in cost.items() if k not in ("glue", "glue_flex"))
    totals = {"standard": cost["glue"] + others, "flex": cost["glue_flex"] + others}
    gb_per_day = s.files_per_day * a["file_bytes"] / 1e9
    per_line = firehose_usd_per_day(s.files_per_day * a["file_bytes"], m["ndjson_bytes_per_line"], a)
    packed = firehose_usd_per_day(s.files_per_day * a["file_bytes"], a["firehose_packed_record_bytes"], a)
    firehose = {
        "one_line_per_record": per_line | {"total": per_line["ingestion"] + per_line["format_conversion"]},
        "packed_records": packed | {"total": packed["ingestion"] + packed["format_conversion"]},
    }
    usd_per_gb = {k: v / gb_per_day for k, v in cost.items()} | {
        "total_standard": totals["standard"] / gb_per_day,
        "total_flex": totals["flex"] / gb_per_day,
        "firehose_one_line_per_record": firehose["one_line_per_record"]["total"] / gb_per_day,
        "firehose_packed_records": firehose["packed_records"]["total"] / gb_per_day,
    }
    replaced_runs = math.ceil(s.files_per_day / a["replaced_system_files_per_run"])
    return {
        "scenario": asdict(s),
        "files_per_manifest": files_per_manifest,
        "tb_per_day": s.files_per_day * a["file_bytes"] / 1e12,
        "glue_runs_per_day": runs,
        "glue_run_seconds": round(run_seconds, 1),
        "glue_dpu_hours_per_day": round(dpu_hours, 1),
        "glue_concurrent_runs_avg": round(concurrent_runs, 1),
        "glue_concurrent_runs_peak": math.ceil(concurrent_runs * a["peak_to_average"]),
        "replaced_system_runs_per_day": replaced_runs,
        "replaced_system_dpu_hours_min": round(replaced_runs * 2 * 60 / 3600, 1),
        "dynamodb_write_calls_per_day": round(write_calls),
        "dynamodb_wru_per_day": round(wru),
        "dynamodb_rru_per_day": round(rru),
        "sqs_requests_per_day": round(sqs_requests),
        "lambda_invocations_per_day": round(invocations),
        "sfn_executions_per_day": runs,
        "sfn_transitions_per_day": transitions,
        "latency_seconds": {
            "batch_fill": round(min(fill_seconds, a["max_batch_wait_seconds"]), 1),
            "typical_drop_to_queryable": round(
                min(fill_seconds, a["max_batch_wait_seconds"]) / 2 + 6 + run_seconds + 3, 1
            ),
            "quiet_period_worst": round(
                a["max_batch_wait_seconds"] + a["flush_interval_seconds"] + 6 + run_seconds + 3, 1
            ),
            "worst_drop_to_queryable": round(
                min(fill_seconds, a["max_batch_wait_seconds"] + a["flush_interval_seconds"])
                + 6
                + run_seconds
                + 3,
                1,
            ),
        },
        "hot_keys": {k: round(v, 1) for k, v in hot.items()},
        "usd_per_day": {k: round(v, 2) for k, v in cost.items()}
        | {"total": round(totals["standard"], 2), "total_flex": round(totals["flex"], 2)},
        "gb_per_day": round(gb_per_day, 1),
        "usd_per_gb": {k: round(v, 6) for k, v in usd_per_gb.items()},
        "firehose": {
            variant: {k: round(v, 2) for k, v in values.items()} for variant, values in firehose.items()
        },
    }


SCENARIOS = [
    Scenario(338_000, 100, 2),
    Scenario(3_400_000, 100, 2),
    Scenario(3_400_000, 1000, 5, max_bytes_per_manifest=10 * 1024**3),
]


def render(results: list[dict[str, Any]], m: dict[str, float]) -> str:
    rows = [
        ("files/day", lambda r: f"{r['scenario']['files_per_day']:,}"),
        ("TB/day (10 MB files)", lambda r: f"{r['tb_per_day']:.1f}"),
        (
            "files per manifest / G.1X workers",
            lambda r: f"{r['files_per_manifest']} / {r['scenario']['glue_workers']}",
        ),
        ("Glue runs/day", lambda r: f"{r['glue_runs_per_day']:,}"),
        ("Glue run seconds (start-up included)", lambda r: f"{r['glue_run_seconds']}"),
        ("Glue DPU-hours/day", lambda r: f"{r['glue_dpu_hours_per_day']:,}"),
        (
            "Glue concurrent runs avg / peak",
            lambda r: f"{r['glue_concurrent_runs_avg']} / {r['glue_concurrent_runs_peak']}",
        ),
        (
            "10-file batches: runs/day, DPU-h (1-min min.)",
            lambda r: f"{r['replaced_system_runs_per_day']:,} / {r['replaced_system_dpu_hours_min']:,}",
        ),
        ("DynamoDB write calls/day", lambda r: f"{r['dynamodb_write_calls_per_day']:,}"),
        ("DynamoDB WRU/day (GSIs included)", lambda r: f"{r['dynamodb_wru_per_day']:,}"),
        ("DynamoDB RRU/day", lambda r: f"{r['dynamodb_rru_per_day']:,}"),
        ("SQS requests/day", lambda r: f"{r['sqs_requests_per_day']:,}"),
        ("Lambda invocations/day", lambda r: f"{r['lambda_invocations_per_day']:,}"),
        (
            "Step Functions executions / transitions",
            lambda r: f"{r['sfn_executions_per_day']:,} / {r['sfn_transitions_per_day']:,}",
        ),
        ("batch fill (s)", lambda r: f"{r['latency_seconds']['batch_fill']}"),
        (
            "drop to queryable, typical / worst (s)",
            lambda r: (
                f"{r['latency_seconds']['typical_drop_to_queryable']} / {r['latency_seconds']['worst_drop_to_queryable']}"
            ),
        ),
        (
            "last file before a quiet period: wait + flush interval + run (s)",
            lambda r: f"{r['latency_seconds']['quiet_period_worst']}",
        ),
        (
            "date partition WCU/s at peak (limit 1,000 before split)",
            lambda r: f"{r['hot_keys']['date_partition_wcu_at_peak']}",
        ),
        (
            "pending-index shard WCU/s at peak (limit 1,000)",
            lambda r: f"{r['hot_keys']['pending_shard_wcu_at_peak']}",
        ),
        (
            "META#PENDING item WCU/s at peak (limit 1,000)",
            lambda r: f"{r['hot_keys']['counter_item_wcu_at_peak']}",
        ),
        ("USD/day Glue", lambda r: f"{r['usd_per_day']['glue']:,}"),
        ("USD/day DynamoDB", lambda r: f"{r['usd_per_day']['dynamodb']:,}"),
        (
            "USD/day SQS + Lambda + Step Functions + S3 requests",
            lambda r: (
                f"{r['usd_per_day']['sqs'] + r['usd_per_day']['lambda'] + r['usd_per_day']['step_functions'] + r['usd_per_day']['s3_requests']:,.2f}"
            ),
        ),
        ("USD/day total", lambda r: f"{r['usd_per_day']['total']:,}"),
        ("USD/day total with Glue Flex", lambda r: f"{r['usd_per_day']['total_flex']:,}"),
    ]
    per_gb_rows = [
        ("GB/day of NDJSON converted", lambda r: f"{r['gb_per_day']:,.0f}"),
        ("Glue, standard execution class", lambda r: f"{r['usd_per_gb']['glue']:.5f}"),
        ("Glue, Flex execution class", lambda r: f"{r['usd_per_gb']['glue_flex']:.5f}"),
        ("DynamoDB", lambda r: f"{r['usd_per_gb']['dynamodb']:.5f}"),
        ("Lambda", lambda r: f"{r['usd_per_gb']['lambda']:.5f}"),
        ("Step Functions", lambda r: f"{r['usd_per_gb']['step_functions']:.5f}"),
        ("SQS", lambda r: f"{r['usd_per_gb']['sqs']:.5f}"),
        ("S3 requests", lambda r: f"{r['usd_per_gb']['s3_requests']:.5f}"),
        ("**this pipeline, Glue standard**", lambda r: f"**{r['usd_per_gb']['total_standard']:.5f}**"),
        ("**this pipeline, Glue Flex**", lambda r: f"**{r['usd_per_gb']['total_flex']:.5f}**"),
        (
            "Firehose, one NDJSON line per record: billed GB/day (5 KB rounding)",
            lambda r: f"{r['firehose']['one_line_per_record']['billed_gb_per_day']:,.0f}",
        ),
        (
            "Firehose, one line per record: ingestion + format conversion, USD/day",
            lambda r: (
                f"{r['firehose']['one_line_per_record']['ingestion']:,.2f} + "
                f"{r['firehose']['one_line_per_record']['format_conversion']:,.2f}"
            ),
        ),
        (
            "**Firehose, one line per record**",
            lambda r: f"**{r['usd_per_gb']['firehose_one_line_per_record']:.5f}**",
        ),
        (
            "Firehose, lines packed into 1,000 KB records (lower bound)",
            lambda r: f"{r['usd_per_gb']['firehose_packed_records']:.5f}",
        ),
    ]
    lines = [
        "# Cost and scale model (generated by bench/cost_model.py)",
        "",
        f"Measured inputs: {m['ddb_write_calls_per_file']:.2f} DynamoDB write calls per file (control_plane.json), "
        f"{m['ddb_items_read_per_file']:.2f} items read per file, Glue job "
        f"{m['glue_mb_per_s_per_core']:.1f} MB/s per core ({CONVERSION}: {m['glue_measured_mb']:.0f} MB in "
        f"{m['glue_measured_seconds']} s on 2 cores). Assumptions and prices: see the script and docs/scaling.md.",
        "",
        "| | " + " | ".join(f"scenario {i + 1}" for i in range(len(results))) + " |",
        "| --- |" + " ---: |" * len(results),
    ]
    for label, value in rows:
        lines.append(f"| {label} | " + " | ".join(value(r) for r in results) + " |")
    lines += [
        "",
        "## Cost per GB converted (USD per GB of NDJSON input, GB = 10^9 bytes)",
        "",
        f"Glue DPU-seconds from the measured rate above ({CONVERSION}) with the same start-up, efficiency "
        f"and 1-minute minimum for both execution classes (Flex bills the same DPU-seconds at a lower rate; its "
        f"start is not guaranteed, which the latency rows above do not model). Firehose: Direct PUT with "
        f"record-format conversion to Parquet of the same NDJSON, {m['ndjson_bytes_per_line']:.0f} B per line "
        f"({CONVERSION} input), each record billed rounded up to 5 KB for ingestion and again for the "
        f"conversion; ingestion tiers per month. The packed row assumes producers pack lines into 1,000 KB "
        f"records (whether the conversion's JSON deserializer reads several objects per record is not verified "
        f"here). Firehose's S3 requests and its own buffering latency are left out.",
        "",
        "| USD per GB | " + " | ".join(f"scenario {i + 1}" for i in range(len(results))) + " |",
        "| --- |" + " ---: |" * len(results),
    ]
    for label, value in per_gb_rows:
        lines.append(f"| {label} | " + " | ".join(value(r) for r in results) + " |")
    lines += ["", "Prices (us-east-1, USD) and their sources:", ""]
    lines += [f"- {name}: {source}" for name, source in PRICE_SOURCES.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    m = measured()
    results = [model(s, m) for s in SCENARIOS]
    document = {
        "measured": m,
        "assumptions": ASSUMPTIONS,
        "prices": PRICES,
        "price_sources": PRICE_SOURCES,
        "scenarios": results,
    }
    (RESULTS / "cost_model.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "cost_model.md").write_text(render(results, m))
    print(render(results, m))


if __name__ == "__main__":
    main()
