"""The `pipeline` command: the whole pipeline on one machine, the lake at your fingertips, and the operator tools.

    pipeline demo                 generated drops -> embedded AWS -> Parquet lake, with a summary and a sample query
    pipeline run --input DIR      the same on your own NDJSON files (keys keep their folder layout)
    pipeline query "SQL"          DuckDB over the lake (table `events`, Hive partitions)
    pipeline up                   the embedded AWS with the stack applied, kept running for the AWS CLI / boto3
    pipeline build-lambda         the Lambda zip Terraform deploys
    pipeline build-glue           the Glue job's entry script and package zip Terraform uploads
    pipeline status|retry|redrive|reconcile|backfill|replay    the operator commands (real AWS or the embedded one)
    pipeline maintain             compact, expire and sweep the Iceberg table (real AWS or the embedded one)
    pipeline schema show|diff|evolve    the table's schema contract
    pipeline snapshots            the Iceberg table's snapshots (time travel: pipeline query --as-of)
    pipeline trace s3://b/key     one file's journey: tracking item, manifest, execution, Glue run, rows, snapshot

This module only assembles the app: the commands live in pipeline/cli/embedded.py, build.py, ops.py and
maintain.py, their shared options in options.py, and the one error -> printed line + exit status mapping in output.py. Every error a
user can meet ends with one sentence, the fix, a stable error name and a non-zero exit status (2: nothing was
started, 1: the run failed or did not account for every line, 130: interrupted).
"""

from __future__ import annotations

import typer

from pipeline.cli import build, embedded, maintain, ops, schema, trace

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Serverless NDJSON-to-Parquet pipeline: run it end to end on this machine, query the lake.",
)
embedded.register(app)
build.register(app)
ops.register(app)
maintain.register(app)
schema.register(app)
trace.register(app)


def main() -> None:  # pragma: no cover - console script entry
    app()
