"""The stack's resource names, from Terraform outputs or flags.

The outputs file is what `terraform output -json` prints (`{"name": {"value": ..., "type": ...}}`) or a plain
`{"name": value}` object; the embedded mode writes one into its work folder. Each name below accepts a few output
spellings (first match wins) and a flag overrides any of them. A command asks only for the names it needs
(`StackNames.require`), so a missing name fails with the flag and output that would supply it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.ops.errors import StackNameMissing, StackOutputsInvalid

OUTPUTS_ENV = "PIPELINE_STACK_OUTPUTS"

# field -> Terraform output names accepted for it (the first present wins).
OUTPUT_ALIASES: dict[str, tuple[str, ...]] = {
    "region": ("region", "aws_region"),
    "tracking_table": ("tracking_table_name", "tracking_table"),
    "ingest_queue_url": ("ingest_queue_url", "queue_url"),
    "dlq_url": ("ingest_dlq_url", "dlq_url", "ingest_dead_letter_queue_url", "dead_letter_queue_url"),
    "state_machine_arn": ("state_machine_arn",),
    "input_bucket": ("input_bucket_name", "input_bucket"),
    "manifest_bucket": ("manifest_bucket_name", "manifest_bucket"),
    "manifest_prefix": ("manifest_prefix",),
    "output_path": ("output_path", "output_s3_path", "output_location"),
    "bad_records_path": ("bad_records_path", "bad_records_s3_path", "quarantine_path"),
    "glue_database": ("glue_database_name", "catalog_database_name", "glue_database", "catalog_database"),
    "glue_table": ("glue_table_name", "catalog_table_name", "table_name", "glue_table", "catalog_table"),
    "function_name": ("manifest_builder_function_name", "lambda_function_name", "function_name"),
    "pending_shards": ("pending_shards",),
    "repair_grace_seconds": ("repair_grace_seconds",),
    "table_format": ("table_format",),
    "glue_job_name": ("glue_job_name",),
    "metrics_namespace": ("metrics_namespace",),
    "freshness_objective_seconds": ("freshness_objective_seconds",),
}

# field -> the CLI flag that sets it (for error messages).
FLAGS: dict[str, str] = {
    "region": "--region",
    "tracking_table": "--table",
    "ingest_queue_url": "--queue-url",
    "dlq_url": "--dlq-url",
    "state_machine_arn": "--state-machine-arn",
    "input_bucket": "--bucket",
    "manifest_bucket": "--manifest-bucket",
    "manifest_prefix": "--manifest-prefix",
    "output_path": "--output-path",
    "bad_records_path": "--bad-records-path",
    "glue_database": "--glue-database",
    "glue_table": "--glue-table",
    "function_name": "--function-name",
    "pending_shards": "--pending-shards",
    "repair_grace_seconds": "--grace-seconds",
    "table_format": "--table-format",
    "glue_job_name": "--glue-job",
    "metrics_namespace": "(no flag)",
    "freshness_objective_seconds": "(no flag)",
}


@dataclass(frozen=True)
class StackNames:
    region: str | None = None
    tracking_table: str | None = None
    ingest_queue_url: str | None = None
    dlq_url: str | None = None
    state_machine_arn: str | None = None
    input_bucket: str | None = None
    manifest_bucket: str | None = None
    manifest_prefix: str = "manifests/"
    output_path: str | None = None
    bad_records_path: str | None = None
    glue_database: str | None = None
    glue_table: str = "events"
    function_name: str | None = None
    pending_shards: int = 4
    repair_grace_seconds: int = 960
    table_format: str | None = (
        None  # "iceberg" | "parquet"; None: ask the Glue job (pipeline/ops/lake_table.py)
    )
    glue_job_name: str | None = None
    metrics_namespace: str | None = None  # `pipeline status`'s metrics; None: not shown
    freshness_objective_seconds: int | None = None

    def require(self, *names: str) -> None:
        """Fail with one sentence naming every missing name, its flag and its Terraform output."""
        missing = [name for name in names if getattr(self, name) in (None, "")]
        if missing:
            parts = [f"{name} ({FLAGS[name]} or output `{OUTPUT_ALIASES[name][0]}`)" for name in missing]
            raise StackNameMissing(
                "Missing stack name(s): "
                + ", ".join(parts)
                + f"; pass the flags or point --outputs (or ${OUTPUTS_ENV}) at `terraform output -json`."
            )

    def get(self, name: str) -> str:
        self.require(name)
        return str(getattr(self, name))


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "type", "sensitive"}:
        return value["value"]
    return value


def parse_outputs(document: Any) -> dict[str, Any]:
    """Map a Terraform outputs document to StackNames fields (unknown outputs are ignored)."""
    if not isinstance(document, dict):
        raise StackOutputsInvalid(
            "The stack outputs must be a JSON object (as `terraform output -json` prints)."
        )
    flat = {key: _unwrap(value) for key, value in document.items()}
    found: dict[str, Any] = {}
    for name, aliases in OUTPUT_ALIASES.items():
        for alias in aliases:
            if flat.get(alias) not in (None, ""):
                found[name] = flat[alias]
                break
    return found


def load_outputs(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackOutputsInvalid(f"Cannot read the stack outputs file {path}: {exc.strerror}.") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackOutputsInvalid(
            f"The stack outputs file {path} is not JSON (line {exc.lineno}: {exc.msg}); write it with "
            "`terraform output -json > FILE`."
        ) from exc
    return parse_outputs(document)


def _coerce(name: str, value: Any) -> Any:
    if name in ("pending_shards", "repair_grace_seconds", "freshness_objective_seconds"):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise StackOutputsInvalid(f"{name} must be a whole number, got {value!r}.") from None
        if number < 1:
            raise StackOutputsInvalid(f"{name} must be at least 1, got {number}.")
        return number
    if name == "table_format":
        text = str(value).strip().lower()
        if text not in ("iceberg", "parquet"):
            raise StackOutputsInvalid(f"table_format must be iceberg or parquet, got {value!r}.")
        return text
    if name == "manifest_prefix":
        text = str(value)
        return text if text.endswith("/") or not text else text + "/"
    return str(value)


def resolve(outputs_file: Path | None = None, **overrides: Any) -> StackNames:
    """Names from the outputs file (flag, else $PIPELINE_STACK_OUTPUTS), then the non-empty overrides."""
    unknown = set(overrides) - {f.name for f in fields(StackNames)}
    if unknown:
        raise ValueError(f"unknown stack names: {sorted(unknown)}")
    values: dict[str, Any] = {}
    path = outputs_file or (Path(os.environ[OUTPUTS_ENV]) if os.environ.get(OUTPUTS_ENV) else None)
    if path is not None:
        values.update(load_outputs(path))
    values.update({key: value for key, value in overrides.items() if value not in (None, "")})
    return StackNames(**{key: _coerce(key, value) for key, value in values.items()})
