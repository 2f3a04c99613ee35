"""Job arguments: Glue-style `--NAME value` parsing and the codec check against the one codec list.

Which codecs are accepted is decided by codecs.json alone (Terraform's variable validation reads the same file),
so a codec refused here is refused at `terraform plan` too. The file travels inside the job package (the Glue zip
built by pipeline/build/glue_artifacts.py); in a checkout it sits beside the package, glue_jobs/codecs.json.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .constants import CODEC_LEVELS
from .errors import JobError
from .storage import join

CODECS_FILE = "codecs.json"
#: --COMPRESSION_TYPE name -> pyarrow codec name. Which names are accepted is decided by codecs.json.
PYARROW_CODECS = {
    "snappy": "snappy",
    "gzip": "gzip",
    "zstd": "zstd",
    "lz4": "lz4_raw",
    "brotli": "brotli",
    "uncompressed": "none",
}


@dataclass(frozen=True)
class ArgSpec:
    """One job argument: `--NAME`, whether it is required, its default (as the help shows it) and its meaning."""

    name: str
    meaning: str
    default: str = ""
    required: bool = False


#: THE job's arguments (docs/glue-job.md#arguments lists the same rows): REQUIRED_ARGS, OPTIONAL_ARGS, the
#: defaults the parsers below fall back to and `--help` (`help_text`) all come from here.
ARGUMENTS: tuple[ArgSpec, ...] = (
    ArgSpec("JOB_NAME", "Glue job name (Job.init), reported", required=True),
    ArgSpec(
        "MANIFEST_PATH",
        "manifest: s3://, file:// or a local path (not needed with --MODE maintain)",
        required=True,
    ),
    ArgSpec("OUTPUT_PATH", "Parquet root; files go to OUTPUT_PATH/dt=<date_prefix>/", required=True),
    ArgSpec(
        "COMPRESSION_TYPE",
        "Parquet codec, one of codecs.json's supported list (case-insensitive)",
        "(none on purpose)",
        required=True,
    ),
    ArgSpec(
        "COMPRESSION_LEVEL",
        "the codec's level, in codecs.json's \"levels\" range (zstd 1-22, gzip 1-9, brotli 0-11); refused for "
        "codecs without levels",
        ", ".join(f"{codec} {level}" for codec, level in CODEC_LEVELS.items()),
    ),
    ArgSpec("BAD_RECORDS_PATH", "quarantine root", "<OUTPUT_PATH>/_bad_records"),
    ArgSpec("MAX_BAD_RECORD_RATIO", "0..1; above it nothing is published", "0.05"),
    ArgSpec("TARGET_FILE_MB", "about this many MiB per Parquet file (1..10240)", "128"),
    ArgSpec("SCHEMA_PATH", "explicit schema: Spark StructType JSON (df.schema.json())", "inferred"),
    ArgSpec("MANIFEST_ID", "must match the manifest's manifest_id when given", "from the manifest"),
    ArgSpec(
        "TABLE_FORMAT",
        "iceberg: one Iceberg commit per manifest (Terraform passes it, default iceberg); parquet: Hive-style "
        "dt=<date>/ folders",
        "parquet",
    ),
    ArgSpec(
        "CATALOG_DATABASE",
        "the Glue Data Catalog database of the table; without it an Iceberg run uses a local SQLite catalog in "
        "OUTPUT_PATH/_catalog/ and a Parquet run keeps its contract in OUTPUT_PATH/_schema/contract.json",
        "(none)",
    ),
    ArgSpec("CATALOG_TABLE", "the table's name in that catalog", "events"),
    ArgSpec(
        "MODE",
        "convert, or maintain: compaction, snapshot expiry and orphan removal of the Iceberg table (no "
        "manifest, no Spark)",
        "convert",
    ),
    ArgSpec("MAINTAIN_DATE", "maintain mode: only this YYYY-MM-DD partition", "every date"),
    ArgSpec(
        "SNAPSHOT_RETENTION_HOURS",
        "maintain mode: snapshots older than this are expired (the current one never)",
        "168",
    ),
    ArgSpec("ORPHAN_AGE_HOURS", "maintain mode: unreferenced files older than this are removed", "72"),
    ArgSpec(
        "METRICS_NAMESPACE",
        "CloudWatch namespace of the one EMF metrics line a run prints (Terraform passes the stack's)",
        "(none: no metrics line)",
    ),
    ArgSpec(
        "JOB_RUN_ID",
        "recorded in the snapshot summary (job-run-id); on Glue it comes from Glue itself",
        "Glue's",
    ),
)
REQUIRED_ARGS = tuple(arg.name for arg in ARGUMENTS if arg.required)
OPTIONAL_ARGS = tuple(arg.name for arg in ARGUMENTS if not arg.required)
DEFAULTS = {arg.name: arg.default for arg in ARGUMENTS}


def help_text(width: int = 100) -> str:
    """Every argument with its meaning and default, for the entry script's `--help`."""
    indent = max(len(arg.name) for arg in ARGUMENTS) + 6
    lines = [
        "Arguments (--NAME value or --NAME=value; unknown arguments are ignored, as Glue passes its own):"
    ]
    for arg in ARGUMENTS:
        default = (
            ("required" + (f"; default: {arg.default}" if arg.default else ""))
            if arg.required
            else (f"default: {arg.default}")
        )
        text = f"  --{arg.name:<{indent - 4}}{arg.meaning} [{default}]"
        lines.extend(textwrap.wrap(text, width, subsequent_indent=" " * indent, break_on_hyphens=False))
    return "\n".join(lines)


TABLE_FORMATS = ("iceberg", "parquet")
MODES = ("convert", "maintain")
DEFAULT_TABLE = DEFAULTS[
    "CATALOG_TABLE"
]  # the table name of a local catalog when --CATALOG_TABLE is not given
CATALOG_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")  # Glue Data Catalog database and table names
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MANIFEST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass(frozen=True)
class JobArgs:
    job_name: str
    manifest_path: str
    output_path: str
    compression: str
    bad_records_path: str
    compression_level: int | None = None  # None: the codec takes no level; parse_job_args fills the default
    max_bad_record_ratio: float = float(DEFAULTS["MAX_BAD_RECORD_RATIO"])
    target_file_mb: int = int(DEFAULTS["TARGET_FILE_MB"])
    schema_path: str | None = None
    manifest_id: str | None = None
    table_format: str = (
        "parquet"  # "iceberg" | "parquet"; absent: parquet, a bare run writes as it always did
    )
    catalog_database: str | None = None  # the Glue Data Catalog database; None: no Glue catalog
    catalog_table: str = DEFAULT_TABLE
    mode: str = "convert"  # "convert" | "maintain"
    maintain_date: str | None = None
    snapshot_retention_hours: int = int(DEFAULTS["SNAPSHOT_RETENTION_HOURS"])
    orphan_age_hours: int = int(DEFAULTS["ORPHAN_AGE_HOURS"])
    job_run_id: str | None = None
    metrics_namespace: str | None = None

    @property
    def iceberg(self) -> bool:
        return self.table_format == "iceberg"


def _codec_candidates(extra_dirs: tuple[str, ...]) -> list[Any]:
    """Where codecs.json may be: in the package (the Glue zip), beside the package (a checkout), the working
    directory (where Glue puts --extra-files), `extra_dirs`, the Spark files directory (spark-submit --files)."""
    candidates: list[Any] = []
    if __package__:
        candidates.append(resources.files(__package__).joinpath(CODECS_FILE))
    package_dir = Path(__file__).resolve().parent
    if package_dir.is_dir():  # not inside a zip
        candidates.append(package_dir.parent / CODECS_FILE)
    candidates.append(Path.cwd() / CODECS_FILE)
    candidates.extend(Path(d) / CODECS_FILE for d in extra_dirs)
    try:
        from pyspark import SparkFiles

        candidates.append(Path(SparkFiles.getRootDirectory()) / CODECS_FILE)
    except Exception:  # noqa: S110 - no active SparkContext: that location does not exist
        pass
    return candidates


def load_codecs(extra_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """The codec list: {"supported": [...], "unsupported": {name: why}, "athena": {name: Athena reads it},
    "path": where it was read}."""
    for candidate in _codec_candidates(extra_dirs):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise JobError("CodecListInvalid", f"{candidate} is not valid JSON: {exc}") from exc
            supported = data.get("supported") if isinstance(data, dict) else None
            if not isinstance(supported, list) or not supported:
                raise JobError("CodecListInvalid", f"{candidate} has no non-empty 'supported' list")
            unknown = [name for name in supported if name not in PYARROW_CODECS]
            if unknown:
                raise JobError(
                    "CodecListInvalid",
                    f"{candidate} lists codecs this job cannot write: {', '.join(unknown)}",
                )
            athena = data.get("athena") or {}
            if not isinstance(athena, dict) or set(athena) != set(supported):
                raise JobError(
                    "CodecListInvalid",
                    f"{candidate} must say for every supported codec whether Athena reads it",
                )
            levels = data.get("levels") or {}
            if not isinstance(levels, dict) or not all(
                name in supported
                and isinstance(bounds, list)
                and len(bounds) == 2
                and all(isinstance(b, int) for b in bounds)
                and bounds[0] <= CODEC_LEVELS.get(name, bounds[0]) <= bounds[1]
                for name, bounds in levels.items()
            ):
                raise JobError(
                    "CodecListInvalid",
                    f"{candidate}: 'levels' must map supported codecs to [lowest, highest] ranges that hold the "
                    "job's default level",
                )
            return {
                "supported": list(supported),
                "levels": {name: (bounds[0], bounds[1]) for name, bounds in levels.items()},
                "unsupported": dict(data.get("unsupported") or {}),
                "athena": {name: athena[name] is True for name in supported},
                "path": str(candidate),
            }
    raise JobError(
        "CodecListMissing",
        f"{CODECS_FILE} was not found in or beside the job package, in the working directory or in the "
        "Spark files; deploy it with the package (on Glue: inside the --extra-py-files zip, or "
        "--extra-files s3://.../codecs.json)",
    )


def check_codec(name: str) -> str:
    """The codec name if codecs.json supports it; otherwise UnsupportedCompression listing what works."""
    codecs = load_codecs()
    codec = name.strip().lower()
    if codec not in codecs["supported"]:
        why = codecs["unsupported"].get(codec)
        reason = f"'{codec}' is not supported ({why})" if why else f"'{codec}' is not a known codec"
        raise JobError(
            "UnsupportedCompression",
            f"--COMPRESSION_TYPE {reason}; use one of: {', '.join(codecs['supported'])}",
        )
    return codec


def check_level(codec: str, text: str | None) -> int | None:
    """The --COMPRESSION_LEVEL for `codec`: the default (CODEC_LEVELS) when `text` is empty, None for a codec
    without levels; InvalidCompressionLevel when out of codecs.json's range or given for a codec without one."""
    levels = load_codecs()["levels"]
    value = (text or "").strip()
    if codec not in levels:
        if value:
            raise JobError(
                "InvalidCompressionLevel",
                f"--COMPRESSION_LEVEL {value}: {codec} takes no level; drop the argument or use a codec that "
                f"has one ({', '.join(f'{name} {lo}-{hi}' for name, (lo, hi) in levels.items())})",
            )
        return None
    lowest, highest = levels[codec]
    if not value:
        return CODEC_LEVELS.get(codec)
    if not re.fullmatch(r"-?\d+", value) or not (lowest <= int(value) <= highest):
        raise JobError(
            "InvalidCompressionLevel",
            f"--COMPRESSION_LEVEL must be a whole number from {lowest} to {highest} for {codec}, got '{value}'; "
            f"leave it out for the default ({CODEC_LEVELS.get(codec)})",
        )
    return int(value)


def athena_warning(codec: str, catalog_database: str | None) -> str | None:
    """A warning when the table goes to the Glue Data Catalog (so Athena may query it) in a codec Athena cannot
    read; None otherwise. A warning, not a refusal: the embedded run registers a Glue catalog too and reads the
    files with DuckDB, which reads every codec. A deployed stack refuses such a codec at `terraform plan`."""
    if catalog_database is None or load_codecs()["athena"].get(codec, True):
        return None
    return (
        f"--COMPRESSION_TYPE {codec}: Athena cannot read {codec} Parquet, and this table is registered in the Glue "
        f"Data Catalog database {catalog_database}; Athena queries of it will fail (Spark, DuckDB and pyarrow "
        "read it). Use zstd or snappy for a table Athena queries."
    )


def _raw_options(argv: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("--"):
            continue  # positional noise (e.g. the script name): ignored like Glue does
        name = token[2:]
        if "=" in name:
            name, value = name.split("=", 1)
        elif index < len(argv) and not argv[index].startswith("--"):
            value = argv[index]
            index += 1
        else:
            value = ""
        options[name] = value
    return options


def _ratio(options: dict[str, str]) -> float:
    ratio_text = options.get("MAX_BAD_RECORD_RATIO", DEFAULTS["MAX_BAD_RECORD_RATIO"]).strip()
    try:
        ratio = float(ratio_text)
    except ValueError:
        ratio = math.nan
    if not (0.0 <= ratio <= 1.0):
        raise JobError(
            "InvalidArgument", f"--MAX_BAD_RECORD_RATIO must be a number between 0 and 1, got '{ratio_text}'"
        )
    return ratio


def _target_file_mb(options: dict[str, str]) -> int:
    target_text = options.get("TARGET_FILE_MB", DEFAULTS["TARGET_FILE_MB"]).strip()
    if not target_text.isdigit() or not (1 <= int(target_text) <= 10_240):
        raise JobError(
            "InvalidArgument",
            f"--TARGET_FILE_MB must be a whole number of MiB between 1 and 10240, got '{target_text}'",
        )
    return int(target_text)


def _choice(options: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = options.get(name, "").strip().lower() or default
    if value not in choices:
        raise JobError(
            "InvalidArgument", f"--{name} must be one of {', '.join(choices)}, got '{options.get(name, '')}'"
        )
    return value


def _hours(options: dict[str, str], name: str, default: int) -> int:
    text = options.get(name, "").strip() or str(default)
    if not text.isdigit() or not (1 <= int(text) <= 100_000):
        raise JobError("InvalidArgument", f"--{name} must be a whole number of hours >= 1, got '{text}'")
    return int(text)


def _catalog_name(options: dict[str, str], name: str) -> str | None:
    value = options.get(name, "").strip() or None
    if value is not None and not CATALOG_NAME_RE.match(value):
        raise JobError(
            "InvalidArgument",
            f"--{name} must be 1-255 characters of lower-case letters, digits and '_' (a Glue Data Catalog "
            f"name Athena can query), got '{value}'",
        )
    return value


def _catalog_options(options: dict[str, str]) -> dict[str, Any]:
    maintain_date = options.get("MAINTAIN_DATE", "").strip() or None
    if maintain_date is not None and not DATE_RE.match(maintain_date):
        raise JobError("InvalidArgument", f"--MAINTAIN_DATE must be YYYY-MM-DD, got '{maintain_date}'")
    return {
        "table_format": _choice(options, "TABLE_FORMAT", TABLE_FORMATS, DEFAULTS["TABLE_FORMAT"]),
        "catalog_database": _catalog_name(options, "CATALOG_DATABASE"),
        "catalog_table": _catalog_name(options, "CATALOG_TABLE") or DEFAULT_TABLE,
        "mode": _choice(options, "MODE", MODES, DEFAULTS["MODE"]),
        "maintain_date": maintain_date,
        "snapshot_retention_hours": _hours(
            options, "SNAPSHOT_RETENTION_HOURS", int(DEFAULTS["SNAPSHOT_RETENTION_HOURS"])
        ),
        "orphan_age_hours": _hours(options, "ORPHAN_AGE_HOURS", int(DEFAULTS["ORPHAN_AGE_HOURS"])),
        "job_run_id": options.get("JOB_RUN_ID", "").strip() or None,
        "metrics_namespace": options.get("METRICS_NAMESPACE", "").strip() or None,
    }


def parse_job_args(argv: list[str]) -> JobArgs:
    """Parse Glue-style `--NAME value` arguments; unknown ones are ignored. Raises JobError on bad input."""
    options = _raw_options(list(argv))
    maintain = options.get("MODE", "").strip().lower() == "maintain"
    required = [n for n in REQUIRED_ARGS if not (maintain and n == "MANIFEST_PATH")]  # maintain: no manifest
    missing = [name for name in required if not options.get(name, "").strip()]
    if missing:
        raise JobError(
            "MissingArgument",
            f"required argument(s) {', '.join('--' + n for n in missing)} missing or empty; "
            "usage: --JOB_NAME <name> --MANIFEST_PATH <manifest.json> --OUTPUT_PATH <dir> "
            "--COMPRESSION_TYPE <codec>",
        )
    codec = check_codec(options["COMPRESSION_TYPE"])
    level = check_level(codec, options.get("COMPRESSION_LEVEL"))
    output = options["OUTPUT_PATH"].strip().rstrip("/") or "/"
    ratio = _ratio(options)
    target_file_mb = _target_file_mb(options)
    manifest_id = options.get("MANIFEST_ID", "").strip() or None
    if manifest_id is not None and not MANIFEST_ID_RE.match(manifest_id):
        raise JobError(
            "InvalidArgument", f"--MANIFEST_ID must be 1-80 characters of [A-Za-z0-9_-], got '{manifest_id}'"
        )
    bad_path = options.get("BAD_RECORDS_PATH", "").strip().rstrip("/") or join(output, "_bad_records")
    return JobArgs(
        job_name=options["JOB_NAME"].strip(),
        manifest_path=options.get("MANIFEST_PATH", "").strip(),
        output_path=output,
        compression=codec,
        compression_level=level,
        bad_records_path=bad_path,
        max_bad_record_ratio=ratio,
        target_file_mb=target_file_mb,
        schema_path=options.get("SCHEMA_PATH", "").strip() or None,
        manifest_id=manifest_id,
        **_catalog_options(options),
    )
