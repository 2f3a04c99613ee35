"""Typed, validated settings of the manifest builder Lambda, read from the environment at cold start.

Every bad value is reported by name, all of them at once, in one ``InvalidConfiguration`` error. Besides the
issue's variables (TRACKING_TABLE, MANIFEST_BUCKET, MANIFEST_PREFIX, STATE_MACHINE_ARN, MAX_FILES_PER_MANIFEST,
MAX_BYTES_PER_MANIFEST, MAX_BATCH_WAIT_SECONDS, TTL_DAYS, LOG_LEVEL, ACCEPTED_SUFFIXES) three extras exist:
PENDING_SHARDS, REPAIR_GRACE_SECONDS and MAX_MANIFESTS_PER_INVOCATION (docs/tracking-table.md), and TABLE_FORMAT
(`iceberg` or `parquet`, as the Glue job's --TABLE_FORMAT; unset: parquet): only for parquet does the status update
register the Glue table and its partitions, an Iceberg table is created and committed by the job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.contracts.errors import InvalidConfiguration
from pipeline.contracts.suffixes import DEFAULT_SUFFIXES

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TABLE_FORMATS = ("iceberg", "parquet")

_STATE_MACHINE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_SUFFIX = re.compile(r"^\.[a-z0-9][a-z0-9.]*$")

T = TypeVar("T")


@dataclass(frozen=True)
class ControlPlaneConfig:
    tracking_table: str
    manifest_bucket: str
    state_machine_arn: str
    manifest_prefix: str = "manifests/"
    max_files_per_manifest: int = 100
    max_bytes_per_manifest: int = 1024**3
    max_batch_wait_seconds: int = 300
    ttl_days: int = 30
    log_level: str = "INFO"
    accepted_suffixes: tuple[str, ...] = DEFAULT_SUFFIXES
    pending_shards: int = 4
    repair_grace_seconds: int = 960
    max_manifests_per_invocation: int = 20
    table_format: str = "parquet"

    @property
    def registers_catalog_partitions(self) -> bool:
        """True when the status update registers the Hive-style Glue table and partitions (parquet only: the
        Iceberg table of the same name is the job's, and a Hive registration would overwrite it)."""
        return self.table_format == "parquet"

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[1]

    def execution_arn(self, execution_name: str) -> str:
        """The ARN Step Functions gives an execution of our state machine with that name."""
        head, name = self.state_machine_arn.rsplit(":stateMachine:", 1)
        return f"{head}:execution:{name}:{execution_name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ControlPlaneConfig:
        problems: list[str] = []

        def read(name: str, parse: Callable[[str], T], default: T | None = None) -> T:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                if default is None:
                    problems.append(f"{name} is required but not set")
                    return None  # type: ignore[return-value]
                return default
            try:
                return parse(raw.strip())
            except ValueError as exc:
                problems.append(f"{name}={raw!r}: {exc}")
                return None  # type: ignore[return-value]

        config: dict[str, Any] = dict(
            tracking_table=read("TRACKING_TABLE", _matching(_TABLE, "a DynamoDB table name")),
            manifest_bucket=read("MANIFEST_BUCKET", _matching(_BUCKET, "an S3 bucket name")),
            state_machine_arn=read(
                "STATE_MACHINE_ARN",
                _matching(_STATE_MACHINE_ARN, "arn:aws:states:<region>:<account>:stateMachine:<name>"),
            ),
            manifest_prefix=read("MANIFEST_PREFIX", _prefix, "manifests/"),
            max_files_per_manifest=read("MAX_FILES_PER_MANIFEST", _int_in(1, 10_000), 100),
            max_bytes_per_manifest=read("MAX_BYTES_PER_MANIFEST", _int_in(1, 5 * 1024**4), 1024**3),
            max_batch_wait_seconds=read("MAX_BATCH_WAIT_SECONDS", _int_in(0, 7 * 86_400), 300),
            ttl_days=read("TTL_DAYS", _int_in(1, 3650), 30),
            log_level=read("LOG_LEVEL", _log_level, "INFO"),
            accepted_suffixes=read("ACCEPTED_SUFFIXES", _suffixes, DEFAULT_SUFFIXES),
            pending_shards=read("PENDING_SHARDS", _int_in(1, 64), 4),
            repair_grace_seconds=read("REPAIR_GRACE_SECONDS", _int_in(60, 86_400), 960),
            max_manifests_per_invocation=read("MAX_MANIFESTS_PER_INVOCATION", _int_in(1, 1000), 20),
            table_format=read("TABLE_FORMAT", _table_format, "parquet"),
        )
        if problems:
            raise InvalidConfiguration("invalid manifest builder configuration: " + "; ".join(problems))
        return cls(**config)


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not pattern.fullmatch(raw):
            raise ValueError(f"expected {what}")
        return raw

    return parse


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return value

    return parse


def _prefix(raw: str) -> str:
    prefix = raw.lstrip("/")
    if not prefix:
        raise ValueError("expected a key prefix such as manifests/")
    return prefix if prefix.endswith("/") else prefix + "/"


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _table_format(raw: str) -> str:
    value = raw.lower()
    if value not in TABLE_FORMATS:
        raise ValueError(f"expected one of {', '.join(TABLE_FORMATS)}")
    return value


def _suffixes(raw: str) -> tuple[str, ...]:
    suffixes = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
    if not suffixes:
        raise ValueError("expected a comma-separated list such as .ndjson,.ndjson.gz")
    bad = [s for s in suffixes if not _SUFFIX.fullmatch(s)]
    if bad:
        raise ValueError(f"suffixes must start with a dot: {', '.join(bad)}")
    return suffixes
