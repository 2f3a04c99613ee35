r"""NDJSON -> Parquet: the AWS Glue 5 job script, also runnable with `python` and `spark-submit`.

    python glue_jobs/ndjson_to_parquet.py --JOB_NAME local --MANIFEST_PATH m.json --OUTPUT_PATH out/ \
        --COMPRESSION_TYPE zstd

Self-contained on purpose (stdlib + pyspark + pyarrow, orjson when installed): on Glue it is uploaded as a lone
script. See docs/glue-job.md for the full contract; in short:

* Spark distributes the work; each Spark task parses NDJSON with pyarrow (C++) and writes Parquet with pyarrow,
  which is why every codec pyarrow supports (brotli included) works on plain Spark 3.5 and on Glue alike.
* Stage 1 (one task per input file or per 64 MB range of a large plain file): split into blocks of lines, parse
  each block, quarantine what is not a JSON object, stage the typed Arrow pieces, return their schemas and counts.
* Driver: merge the piece schemas into one batch schema (widening null -> any, int -> double, struct fields
  unioned, list items merged; other conflicts: the type carried by most values wins).
* Stage 2 (one task per output file group): convert each piece to the batch schema (values of the losing type are
  converted when that is lossless - "12.50" -> 12.5 - and their records quarantined otherwise), add the metadata
  columns and write Parquet files of about TARGET_FILE_MB.
* Publish: quarantine first, then the Parquet files of this manifest replace exactly its previous files; the job
  report goes to OUTPUT_PATH/_reports/<manifest_id>.json. Nothing is published where readers look until every
  task has succeeded and the bad-record ratio is within bounds.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import dataclasses
import datetime as dt
import gzip
import json
import math
import os
import re
import sys
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.ipc as paipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

try:  # orjson is faster and stricter (rejects NaN, lone surrogates); the stdlib is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

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
REQUIRED_ARGS = ("JOB_NAME", "MANIFEST_PATH", "OUTPUT_PATH", "COMPRESSION_TYPE")
OPTIONAL_ARGS = ("BAD_RECORDS_PATH", "MAX_BAD_RECORD_RATIO", "TARGET_FILE_MB", "SCHEMA_PATH", "MANIFEST_ID")
MANIFEST_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
INTEGER_RE = re.compile(r"^\s*-?\d+\s*$")
BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r"
TS_TYPE = pa.timestamp("us", tz="UTC")
META_COLUMNS = ("_source_file", "_manifest_id", "_ingested_at")
LINE = "__ndjson_to_parquet_line__"  # internal column: a record's ordinal within its block (never written)

# Tunables (not job arguments: sensible values for Glue workers and laptops alike).
BLOCK_BYTES = 16 * 1024 * 1024  # lines parsed per pyarrow call; bounds a task's memory
SPLIT_BYTES = (
    64 * 1024 * 1024
)  # plain files larger than this are read by several tasks; smaller ones are packed
MAX_FILES_PER_TASK = 256
GZIP_EXPANSION = 6  # planning weight of a gzip byte (NDJSON typically compresses 5-10x)
ROW_GROUP_ROWS = 128 * 1024
CODEC_LEVELS = {"zstd": 3}  # DuckDB's and Spark's default zstd level (pyarrow's is 1)
DICTIONARY_MAX_DISTINCT_RATIO = 0.5  # string columns more distinct than this are written PLAIN (ids, IPs)
SAMPLE_ROWS = 5_000  # rows compressed in stage 1 to estimate the Parquet size of a piece
DICTIONARY_SAMPLE_ROWS = 16_384  # rows looked at to decide which string columns get a dictionary
JSON_CHUNK_BYTES = 4 * 1024 * 1024  # pyarrow's internal JSON chunk (about 20% faster than one huge chunk)


class JobError(Exception):
    """A failure with a stable `error_name` and a sentence a human can act on."""

    def __init__(self, error_name: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{error_name}: {message}")
        self.error_name = error_name
        self.message = message
        self.details = details or {}


# --------------------------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobArgs:
    job_name: str
    manifest_path: str
    output_path: str
    compression: str
    bad_records_path: str
    max_bad_record_ratio: float = 0.05
    target_file_mb: int = 128
    schema_path: str | None = None
    manifest_id: str | None = None


def load_codecs(extra_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read codecs.json from next to this script, the working directory (where Glue puts --extra-files),
    or the Spark files directory (spark-submit --files)."""
    candidates: list[Path] = []
    if "__file__" in globals():
        candidates.append(Path(__file__).resolve().with_name(CODECS_FILE))
    candidates.append(Path.cwd() / CODECS_FILE)
    candidates.extend(Path(d) / CODECS_FILE for d in extra_dirs)
    try:
        from pyspark import SparkFiles

        candidates.append(Path(SparkFiles.getRootDirectory()) / CODECS_FILE)
    except Exception:  # noqa: S110 - no active SparkContext: that location does not exist
        pass
    for candidate in candidates:
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
            return {
                "supported": list(supported),
                "unsupported": dict(data.get("unsupported") or {}),
                "path": str(candidate),
            }
    raise JobError(
        "CodecListMissing",
        f"{CODECS_FILE} was not found next to the job script, in the working directory or in the "
        "Spark files; deploy it with the script (on Glue: --extra-files s3://.../codecs.json)",
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


def parse_job_args(argv: list[str]) -> JobArgs:
    """Parse Glue-style `--NAME value` arguments; unknown ones are ignored. Raises JobError on bad input."""
    options = _raw_options(list(argv))
    missing = [name for name in REQUIRED_ARGS if not options.get(name, "").strip()]
    if missing:
        raise JobError(
            "MissingArgument",
            f"required argument(s) {', '.join('--' + n for n in missing)} missing or empty; "
            "usage: --JOB_NAME <name> --MANIFEST_PATH <manifest.json> --OUTPUT_PATH <dir> "
            "--COMPRESSION_TYPE <codec>",
        )
    codec = check_codec(options["COMPRESSION_TYPE"])
    output = options["OUTPUT_PATH"].strip().rstrip("/") or "/"
    ratio_text = options.get("MAX_BAD_RECORD_RATIO", "0.05").strip()
    try:
        ratio = float(ratio_text)
    except ValueError:
        ratio = math.nan
    if not (0.0 <= ratio <= 1.0):
        raise JobError(
            "InvalidArgument", f"--MAX_BAD_RECORD_RATIO must be a number between 0 and 1, got '{ratio_text}'"
        )
    target_text = options.get("TARGET_FILE_MB", "128").strip()
    if not target_text.isdigit() or not (1 <= int(target_text) <= 10_240):
        raise JobError(
            "InvalidArgument",
            f"--TARGET_FILE_MB must be a whole number of MiB between 1 and 10240, got '{target_text}'",
        )
    manifest_id = options.get("MANIFEST_ID", "").strip() or None
    if manifest_id is not None and not MANIFEST_ID_RE.match(manifest_id):
        raise JobError(
            "InvalidArgument", f"--MANIFEST_ID must be 1-80 characters of [A-Za-z0-9_-], got '{manifest_id}'"
        )
    bad_path = options.get("BAD_RECORDS_PATH", "").strip().rstrip("/") or _join(output, "_bad_records")
    return JobArgs(
        job_name=options["JOB_NAME"].strip(),
        manifest_path=options["MANIFEST_PATH"].strip(),
        output_path=output,
        compression=codec,
        bad_records_path=bad_path,
        max_bad_record_ratio=ratio,
        target_file_mb=int(target_text),
        schema_path=options.get("SCHEMA_PATH", "").strip() or None,
        manifest_id=manifest_id,
    )


# --------------------------------------------------------------------------------------------------------------
# Locations: s3://, file:// and local paths through pyarrow.fs (works in the driver and in Spark tasks)
# --------------------------------------------------------------------------------------------------------------


def _join(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def _normalise(url: str, base_dir: str | None = None) -> str:
    """s3a:// and s3n:// -> s3://, file:// -> absolute path, relative paths -> absolute (against base_dir)."""
    if url.startswith(("s3a://", "s3n://")):
        return "s3://" + url.split("://", 1)[1]
    if url.startswith("s3://"):
        return url
    if url.startswith("file://"):
        return urllib.parse.unquote(urllib.parse.urlparse(url).path)
    if "://" in url:
        raise JobError(
            "UnsupportedLocation", f"'{url}' is neither an s3:// URI, a file:// URI nor a local path"
        )
    path = Path(url)
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    return os.path.normpath(str(path))


#: S3 client options, taken from the driver's environment by run_job and shipped to every task (a Spark
#: worker's environment may differ from the driver's): endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, e.g. a
#: local S3) and region. Credentials always come from the standard AWS chain (on Glue: the job role).
_S3_OPTIONS: dict[str, str] = {}
_S3_SECONDS = (
    "request_timeout",
    "connect_timeout",
)  # shipped to the tasks as text, given to pyarrow as numbers


def s3_options_from_env() -> dict[str, str]:
    options: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urllib.parse.urlparse(endpoint)
        options["endpoint_override"] = parsed.netloc or parsed.path
        options["scheme"] = parsed.scheme or "https"
        # An S3-compatible endpoint (the embedded moto server, MinIO) can be far slower to answer than S3: the AWS
        # SDK's 3 s low-speed timeout failed a run's HEAD requests on a loaded embedded AWS (10,000-file load run).
        options["request_timeout"] = "30"
        options["connect_timeout"] = "10"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return options


def _use_s3_options(options: dict[str, str]) -> None:
    if options != _S3_OPTIONS:
        _S3_OPTIONS.clear()
        _S3_OPTIONS.update(options)


def _fs(location: str) -> tuple[pafs.FileSystem, str]:
    if location.startswith("s3://"):
        if _S3_OPTIONS:
            options: dict[str, Any] = {
                key: float(value) if key in _S3_SECONDS else value for key, value in _S3_OPTIONS.items()
            }
            return pafs.S3FileSystem(**options), location[len("s3://") :]
        filesystem, path = pafs.FileSystem.from_uri(location)
        return filesystem, path
    return pafs.LocalFileSystem(), location


def _make_parent(filesystem: pafs.FileSystem, path: str) -> None:
    """Create the parent directory of a local path (S3 has no directories: no marker objects are created)."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)


def _read_bytes(location: str) -> bytes:
    filesystem, path = _fs(location)
    with filesystem.open_input_stream(path, compression=None) as stream:
        return stream.read()


def _write_bytes(location: str, data: bytes) -> None:
    filesystem, path = _fs(location)
    _make_parent(filesystem, path)
    with filesystem.open_output_stream(path, compression=None) as sink:
        sink.write(data)


def _list_files(location: str) -> list[str]:
    filesystem, path = _fs(location)
    infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    prefix = location[: len(location) - len(path)] if location.startswith("s3://") else ""
    return [prefix + info.path for info in infos if info.type == pafs.FileType.File]


def _delete(location: str) -> None:
    filesystem, path = _fs(location)
    filesystem.delete_file(path)


def _move(source: str, target: str) -> None:
    source_fs, source_path = _fs(source)
    _, target_path = _fs(target)
    _make_parent(source_fs, target_path)
    source_fs.move(source_path, target_path)  # rename locally (atomic per file), copy + delete on S3


def _delete_dir(location: str) -> None:
    filesystem, path = _fs(location)
    with contextlib.suppress(FileNotFoundError):
        filesystem.delete_dir(path)


# --------------------------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    url: str  # as written in the manifest (reported and stored in _source_file)
    location: str  # normalised
    mandatory: bool


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    date_prefix: str
    created_at: str | None
    entries: tuple[Entry, ...]


def load_manifest(manifest_path: str) -> Manifest:
    location = _normalise(manifest_path)
    try:
        raw = _read_bytes(location)
    except (FileNotFoundError, OSError) as exc:
        raise JobError("ManifestNotFound", f"cannot read the manifest {manifest_path}: {exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise JobError("InvalidManifest", f"{manifest_path} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise JobError(
            "InvalidManifest",
            f"{manifest_path} must be a JSON object with manifest_id, date_prefix and entries",
        )
    manifest_id = doc.get("manifest_id")
    if not isinstance(manifest_id, str) or not MANIFEST_ID_RE.match(manifest_id):
        raise JobError(
            "InvalidManifest",
            f"{manifest_path}: manifest_id must be 1-80 characters of [A-Za-z0-9_-], got {manifest_id!r}",
        )
    date_prefix = doc.get("date_prefix")
    try:
        if not isinstance(date_prefix, str) or not DATE_RE.match(date_prefix):
            raise ValueError
        dt.date.fromisoformat(date_prefix)
    except ValueError:
        raise JobError(
            "InvalidManifest", f"{manifest_path}: date_prefix must be a YYYY-MM-DD date, got {date_prefix!r}"
        ) from None
    entries_doc = doc.get("entries")
    if not isinstance(entries_doc, list) or not entries_doc:
        raise JobError("InvalidManifest", f"{manifest_path}: entries must be a non-empty list")
    base_dir = None if location.startswith("s3://") else str(Path(location).parent)
    entries: list[Entry] = []
    for number, item in enumerate(entries_doc):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url.strip():
            raise JobError("InvalidManifest", f"{manifest_path}: entries[{number}] has no 'url' string")
        mandatory = item.get("mandatory", True)
        if not isinstance(mandatory, bool):
            raise JobError(
                "InvalidManifest", f"{manifest_path}: entries[{number}].mandatory must be true/false"
            )
        entries.append(Entry(url=url, location=_normalise(url, base_dir), mandatory=mandatory))
    created_at = doc.get("created_at")
    return Manifest(
        manifest_id=manifest_id,
        date_prefix=date_prefix,
        created_at=created_at if isinstance(created_at, str) else None,
        entries=tuple(entries),
    )


# --------------------------------------------------------------------------------------------------------------
# Types: families, merging, observation
# --------------------------------------------------------------------------------------------------------------


def _family(data_type: pa.DataType) -> str:
    if pa.types.is_null(data_type):
        return "null"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_struct(data_type):
        return "object"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return "array"
    return str(data_type)


def _merge_numbers(left: pa.DataType, right: pa.DataType) -> pa.DataType:
    if left == right:
        return left
    if pa.types.is_integer(left) and pa.types.is_integer(right):
        return pa.int64()
    return pa.float64()


def _observe(array: pa.Array, path: str, out: list[tuple[str, pa.DataType, int]]) -> None:
    """Record (path, type, non-null count) for this node and its descendants."""
    out.append((path, array.type, len(array) - array.null_count))
    if pa.types.is_struct(array.type):
        for index, child in enumerate(array.flatten()):
            _observe(child, f"{path}.{array.type.field(index).name}", out)
    elif pa.types.is_list(array.type):
        _observe(array.flatten(), f"{path}[]", out)


def _observe_table(table: pa.Table) -> list[tuple[str, pa.DataType, int]]:
    out: list[tuple[str, pa.DataType, int]] = []
    for field in table.schema:
        if field.name == LINE:
            continue
        column = table.column(field.name)
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        _observe(array, field.name, out)
    return out


@dataclass
class Resolution:
    schema: pa.Schema
    conflicts: list[dict[str, Any]]
    ignored_fields: list[str]


def resolve_schema(
    observations: list[tuple[str, pa.DataType, int]],
    top_level: list[str],
    explicit: pa.Schema | None,
    null_as_string: bool = True,
) -> Resolution:
    """Merge every piece's types into the batch schema (see the module docstring for the rule)."""
    by_path: dict[str, list[tuple[pa.DataType, int]]] = {}
    for path, data_type, count in observations:
        by_path.setdefault(path, []).append((data_type, count))
    conflicts: list[dict[str, Any]] = []

    def build(path: str) -> pa.DataType:
        typed = [(t, n) for t, n in by_path.get(path, []) if not pa.types.is_null(t)]
        # Types seen only on null values (e.g. a column of nulls conformed earlier) do not vote.
        observed = [(t, n) for t, n in typed if n > 0] or typed[:1]
        if not observed:
            return pa.null()
        weights: dict[str, int] = {}
        for data_type, count in observed:
            weights[_family(data_type)] = weights.get(_family(data_type), 0) + count
        winner = next(iter(weights))
        if len(weights) > 1:
            winner = max(weights, key=lambda fam: (weights[fam], -list(weights).index(fam)))
            conflicts.append({"field": path, "values_by_type": weights, "resolved_as": winner})
        kept = [t for t, _ in observed if _family(t) == winner]
        if winner == "object":
            names: list[str] = []
            for data_type in kept:
                names.extend(f.name for f in data_type if f.name not in names)
            return pa.struct([pa.field(name, build(f"{path}.{name}")) for name in names])
        if winner == "array":
            return pa.list_(build(f"{path}[]"))
        if winner == "number":
            result = kept[0]
            for data_type in kept[1:]:
                result = _merge_numbers(result, data_type)
            return result
        if winner == "timestamp":
            return TS_TYPE
        return kept[0]

    if explicit is not None:
        known = set(explicit.names)
        ignored = [name for name in top_level if name not in known]
        schema = explicit
        _collect_explicit_conflicts(explicit, by_path, conflicts)
        return Resolution(schema=schema, conflicts=conflicts, ignored_fields=ignored)
    convert = _null_to_string if null_as_string else (lambda data_type: data_type)
    fields = [pa.field(name, convert(build(name))) for name in top_level]
    return Resolution(schema=pa.schema(fields), conflicts=conflicts, ignored_fields=[])


def _collect_explicit_conflicts(
    schema: pa.Schema, by_path: dict[str, list[tuple[pa.DataType, int]]], conflicts: list[dict[str, Any]]
) -> None:
    def walk(path: str, data_type: pa.DataType) -> None:
        weights: dict[str, int] = {}
        for observed, count in by_path.get(path, []):
            if not pa.types.is_null(observed) and _family(observed) != _family(data_type):
                weights[_family(observed)] = weights.get(_family(observed), 0) + count
        if weights:
            conflicts.append(
                {
                    "field": path,
                    "values_by_type": weights,
                    "resolved_as": _family(data_type),
                    "rule": "explicit schema",
                }
            )
        if pa.types.is_struct(data_type):
            for field in data_type:
                walk(f"{path}.{field.name}", field.type)
        elif pa.types.is_list(data_type):
            walk(f"{path}[]", data_type.value_type)

    for field in schema:
        walk(field.name, field.type)


def _null_to_string(data_type: pa.DataType) -> pa.DataType:
    """Columns that were null in every record are written as strings (a null-typed Parquet column is unreadable
    by Spark 3.5)."""
    if pa.types.is_null(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct([pa.field(f.name, _null_to_string(f.type)) for f in data_type])
    if pa.types.is_list(data_type):
        return pa.list_(_null_to_string(data_type.value_type))
    return data_type


# --------------------------------------------------------------------------------------------------------------
# Conversions: conform an array to a target type, reporting the rows whose value cannot be converted
# --------------------------------------------------------------------------------------------------------------


def _describe(data_type: pa.DataType) -> str:
    return _family(data_type)


def _parse_timestamp(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _convert_string_value(text: str, target: pa.DataType) -> Any:
    """Python value of `text` in `target`, or raise ValueError."""
    if pa.types.is_floating(target):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    if pa.types.is_integer(target):
        if not INTEGER_RE.match(text):
            raise ValueError(text)
        return int(text)
    if pa.types.is_boolean(target):
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(text)
        return lowered == "true"
    if pa.types.is_timestamp(target):
        moment = _parse_timestamp(text)
        if moment is None:
            raise ValueError(text)
        return moment
    if pa.types.is_date(target):
        return dt.date.fromisoformat(text.strip())
    if pa.types.is_decimal(target):
        import decimal

        return decimal.Decimal(text)
    raise ValueError(text)


def _cast_strings(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Strings -> target type; values that do not convert become the bad rows."""
    try:
        if pa.types.is_timestamp(target):
            return _strings_to_timestamps(array), []
        return pc.cast(array, target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[Any] = []
    bad: list[int] = []
    for index, text in enumerate(array.to_pylist()):
        if text is None:
            values.append(None)
            continue
        try:
            values.append(_convert_string_value(text, target))
        except (ValueError, ArithmeticError):
            values.append(None)
            bad.append(index)
    return pa.array(values, type=target), bad


def _strings_to_timestamps(array: pa.Array) -> pa.Array:
    try:
        return pc.cast(array, TS_TYPE)
    except pa.ArrowInvalid:
        naive = pc.cast(array, pa.timestamp("us"))  # no zone offset: the value is taken as UTC
        return naive.cast(TS_TYPE)


def _non_null_rows(array: pa.Array) -> list[int]:
    if array.null_count == len(array):
        return []
    return [i for i, valid in enumerate(array.is_valid().to_pylist()) if valid]


def conform(array: pa.Array, target: pa.DataType, path: str) -> tuple[pa.Array, dict[int, str]]:
    """`array` converted to `target`, and {row: reason} for rows whose value cannot be represented."""
    source = array.type
    if source == target:
        return array, {}
    if pa.types.is_null(source):
        return pa.nulls(len(array), target), {}
    source_family, target_family = _family(source), _family(target)
    bad: dict[int, str] = {}
    if source_family == "object" and target_family == "object":
        children = array.flatten()
        names = {source.field(i).name: i for i in range(source.num_fields)}
        out_children = []
        for field in target:
            if field.name in names:
                child, child_bad = conform(children[names[field.name]], field.type, f"{path}.{field.name}")
                for row, reason in child_bad.items():
                    bad.setdefault(row, reason)
            else:
                child = pa.nulls(len(array), field.type)
            out_children.append(child)
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(out_children, fields=list(target), mask=mask), bad
    if source_family == "array" and target_family == "array":
        offsets = array.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        values = array.values.slice(first, last - first)
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
        new_values, value_bad = conform(values, target.value_type, f"{path}[]")
        if value_bad:
            starts = rebased.to_pylist()
            for value_row, reason in value_bad.items():
                bad.setdefault(bisect.bisect_right(starts, value_row) - 1, reason)
        mask = array.is_null() if array.null_count else None
        return pa.ListArray.from_arrays(rebased, new_values, type=target, mask=mask), bad
    if target_family == "number" and source_family == "number":
        try:
            return pc.cast(array, target), {}
        except (pa.ArrowInvalid, OverflowError):
            values = []
            for index, value in enumerate(array.to_pylist()):
                if value is not None:
                    try:
                        if pa.types.is_integer(target):
                            if float(value) != int(value):
                                raise ValueError(value)
                            value = int(value)
                        pa.scalar(value, type=target)  # range check
                    except (ValueError, OverflowError, pa.ArrowInvalid):
                        bad[index] = _reason(path, source, target)
                        value = None
                values.append(value)
            return pa.array(values, type=target), bad
    if target_family == "date" and source_family == "timestamp":
        dates = pc.cast(array.cast(TS_TYPE), target)
        lossy = pc.not_equal(pc.cast(pc.cast(dates, pa.timestamp("us")), TS_TYPE), array.cast(TS_TYPE))
        rows = [i for i, flag in enumerate(lossy.to_pylist()) if flag]  # a time of day that a date would drop
        if rows:
            dates = pc.if_else(lossy, pa.scalar(None, target), dates)
        return dates, {row: _reason(path, source, target) for row in rows}
    if target_family == "string" and source_family in ("number", "boolean", "date"):
        return pc.cast(array, target), {}
    if target_family == "string" and source_family == "timestamp":
        return pc.strftime(array.cast(TS_TYPE), format="%Y-%m-%dT%H:%M:%SZ"), {}
    if target_family == "timestamp" and source_family == "timestamp":
        return array.cast(target), {}
    if source_family == "string" and target_family in ("number", "boolean", "timestamp", "date"):
        converted, bad_rows = _cast_strings(array, target)
        return converted, {row: _reason(path, source, target) for row in bad_rows}
    for row in _non_null_rows(array):
        bad[row] = _reason(path, source, target)
    return pa.nulls(len(array), target), bad


def _reason(path: str, source: pa.DataType, target: pa.DataType) -> str:
    return (
        f"type_conflict: field '{path}' holds a {_describe(source)} value that cannot be converted to the "
        f"batch type {target}"
    )


def conform_table(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, dict[int, str]]:
    if table.schema.remove_metadata() == schema:
        return table, {}
    bad: dict[int, str] = {}
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            converted, column_bad = conform(array, field.type, field.name)
            for row, reason in column_bad.items():
                bad.setdefault(row, reason)
        else:
            converted = pa.nulls(table.num_rows, field.type)
        columns.append(converted)
    return pa.Table.from_arrays(columns, schema=schema), bad


def _normalise_types(array: pa.Array) -> pa.Array:
    """Timestamps -> timestamp[us, UTC]; strings that are all ISO-8601 date-times -> timestamp[us, UTC]."""
    data_type = array.type
    if pa.types.is_timestamp(data_type):
        if data_type == TS_TYPE:
            return array
        return array.cast(pa.timestamp("us", tz=data_type.tz)).cast(TS_TYPE)
    if pa.types.is_string(data_type):
        if array.null_count == len(array):
            return array
        first = pc.drop_null(array)[0].as_py()
        if first is not None and TIMESTAMP_LIKE.match(first):
            try:
                return _strings_to_timestamps(array)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return array
        return array
    if pa.types.is_struct(data_type):
        children = array.flatten()
        new_children = [_normalise_types(child) for child in children]
        if all(a is b for a, b in zip(children, new_children, strict=True)):
            return array
        fields = [pa.field(data_type.field(i).name, child.type) for i, child in enumerate(new_children)]
        return pa.StructArray.from_arrays(
            new_children, fields=fields, mask=array.is_null() if array.null_count else None
        )
    if pa.types.is_list(data_type):
        offsets = array.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        values = array.values.slice(first, last - first)
        new_values = _normalise_types(values)
        if new_values is values:
            return array
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
        return pa.ListArray.from_arrays(
            rebased, new_values, mask=array.is_null() if array.null_count else None
        )
    return array


def _normalise_table(table: pa.Table) -> pa.Table:
    arrays, fields = [], []
    for field in table.schema:
        column = table.column(field.name)
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        array = _normalise_types(array)
        arrays.append(array)
        fields.append(pa.field(field.name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# --------------------------------------------------------------------------------------------------------------
# Stage 1: read + parse (inside Spark tasks)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilePart:
    """A whole file, or the lines starting in [start, end) of a large plain file."""

    url: str
    location: str
    start: int
    end: int | None  # None: to the end of the file
    compressed: bool | None  # None: decided by the task from the first bytes
    size: int


@dataclass(frozen=True)
class ReadTask:
    index: int
    parts: tuple[FilePart, ...]  # small files are packed together, a large plain file is split
    staging: str
    size: int
    s3_options: tuple[tuple[str, str], ...] = ()


def _open_text(location: str, compressed: bool) -> Any:
    filesystem, path = _fs(location)
    raw = (
        filesystem.open_input_file(path)
        if not compressed
        else filesystem.open_input_stream(path, compression=None)
    )
    if compressed:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # handles multi-member gzip, unlike Arrow's stream
    return raw


def iter_blocks(
    location: str, compressed: bool, start: int = 0, end: int | None = None, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) blocks of whole lines; offsets are in the decompressed stream. For a range, the lines
    that start in [start, end) (Hadoop LineRecordReader semantics)."""
    stream = _open_text(location, compressed)
    try:
        position = 0
        carry = b""
        if start > 0:
            stream.seek(start - 1)
            skipped = 0
            while True:  # the line in progress at `start` belongs to the previous range
                piece = stream.read(1 << 16)
                if not piece:
                    return
                cut = piece.find(b"\n")
                if cut >= 0:
                    skipped += cut + 1
                    carry = piece[cut + 1 :]
                    break
                skipped += len(piece)
            position = start - 1 + skipped
        while True:
            if end is not None and position >= end:
                return
            chunk = stream.read(block_bytes)
            if not chunk:
                data = carry  # end of file: the rest, up to the lines that start before `end`
                if data and end is not None and position + len(data) > end:
                    stop = data.find(b"\n", max(0, end - 1 - position))
                    data = data if stop < 0 else data[: stop + 1]
                if data:
                    yield position, data
                return
            cut = chunk.rfind(b"\n")
            if cut < 0:
                carry += chunk
                continue
            block = carry + chunk[: cut + 1] if carry else chunk[: cut + 1]
            carry = chunk[cut + 1 :]
            if end is not None and position + len(block) > end:
                stop = block.find(b"\n", max(0, end - 1 - position))
                yield position, block[: stop + 1]
                return
            yield position, block
            position += len(block)
    finally:
        stream.close()


def _strip_bom(offset: int, block: bytes) -> tuple[int, bytes]:
    if offset == 0 and block.startswith(BOM):
        return 3, block[3:]
    return offset, block


def _loads(line: bytes) -> Any:
    if _orjson is not None:
        return _orjson.loads(line)

    def reject(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(line.decode("utf-8"), parse_constant=reject)


def _read_json(data: bytes, block_size: int = JSON_CHUNK_BYTES) -> pa.Table:
    return pajson.read_json(
        pa.BufferReader(data), read_options=pajson.ReadOptions(use_threads=False, block_size=block_size)
    )


@dataclass
class BlockResult:
    tables: list[pa.Table]  # each with an int32 LINE column: ordinal of the record among the block's records
    bad: list[dict[str, Any]]
    records: int  # non-blank lines
    blank: int


def parse_block(url: str, offset: int, block: bytes) -> BlockResult:
    """Parse one block of whole lines. Every non-blank line ends up in exactly one table row or bad record."""
    if not block:
        return BlockResult([], [], 0, 0)
    blank = count_blank_lines(block)
    records = block.count(b"\n") + (0 if block.endswith(b"\n") else 1) - blank
    if records == 0:
        return BlockResult([], [], 0, blank)
    try:
        if not block.isascii():  # ASCII is valid UTF-8; the check is much cheaper than a decode
            block.decode("utf-8")
        table = _read_json(block)
        # pyarrow also accepts several objects on one line ({..}{..}): the count catches that (slow path).
        if table.num_rows == records:
            return BlockResult([_with_line_numbers(_normalise_table(table))], [], records, blank)
    except (UnicodeDecodeError, pa.ArrowInvalid):
        pass
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return _parse_block_slowly(url, offset, lines, records, blank)


_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=[ \t\r]*\n)")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r]*\n")


def count_blank_lines(block: bytes) -> int:
    """Lines holding only JSON whitespace, without splitting the block (a regex that only stops at newlines)."""
    if not block:
        return 0
    blank = len(_BLANK_AFTER_NEWLINE.findall(block))  # terminated blank lines after the first line
    if _BLANK_FIRST_LINE.match(block):
        blank += 1
    if not block.endswith(b"\n") and not block[block.rfind(b"\n") + 1 :].strip(JSON_WHITESPACE):
        blank += 1  # an unterminated last line of whitespace
    return blank


def _with_line_numbers(table: pa.Table) -> pa.Table:
    return _add_line_column(table, pa.array(range(table.num_rows), pa.int32()))


def _add_line_column(table: pa.Table, ordinals: pa.Array) -> pa.Table:
    if LINE in table.column_names:
        raise JobError(
            "ReservedColumn",
            f"the input has a field named {LINE}, reserved for the job's own bookkeeping; rename it upstream",
        )
    return table.append_column(LINE, ordinals)


def _bad_record(url: str, offset: int, line: bytes, reason: str) -> dict[str, Any]:
    raw = line[:-1] if line.endswith(b"\r") else line
    record: dict[str, Any] = {
        "source_file": url,
        "offset": offset,
        "reason": reason,
        "raw_line": raw.decode("utf-8", errors="backslashreplace"),
    }
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw_line_base64"] = base64.b64encode(raw).decode("ascii")
    return record


def _parse_block_slowly(url: str, offset: int, lines: list[bytes], records: int, blank: int) -> BlockResult:
    bad: list[dict[str, Any]] = []
    good: list[tuple[int, int, bytes]] = []  # (ordinal, offset, line)
    ordinal = -1
    position = offset
    for line in lines:
        line_offset = position
        position += len(line) + 1
        if not line.strip(JSON_WHITESPACE):
            continue
        ordinal += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(_bad_record(url, line_offset, line, f"invalid_utf8: {exc.reason} at byte {exc.start}"))
            continue
        try:
            value = _loads(line)
        except ValueError as exc:
            bad.append(_bad_record(url, line_offset, line, f"invalid_json: {exc}"))
            continue
        if not isinstance(value, dict):
            kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
                type(value), "number"
            )
            bad.append(_bad_record(url, line_offset, line, f"not_a_json_object: the line is a JSON {kind}"))
            continue
        good.append((ordinal, line_offset, line))

    tables: list[pa.Table] = []

    def parse(items: list[tuple[int, int, bytes]]) -> None:
        error: Exception | None = None
        try:
            table = _read_json(b"\n".join(item[2] for item in items))
            if table.num_rows == len(items):
                table = _normalise_table(table)
                tables.append(_add_line_column(table, pa.array([i[0] for i in items], pa.int32())))
                return
            error = ValueError(f"{table.num_rows} rows for {len(items)} lines")
        except pa.ArrowInvalid as exc:
            error = exc
        if len(items) == 1 and len(items[0][2]) >= JSON_CHUNK_BYTES:
            # One record longer than pyarrow's chunk ("straddles two block boundaries"): parse it in one chunk.
            try:
                table = _read_json(items[0][2], block_size=len(items[0][2]) + 1)
                if table.num_rows == 1:
                    tables.append(
                        _add_line_column(_normalise_table(table), pa.array([items[0][0]], pa.int32()))
                    )
                    return
            except pa.ArrowInvalid as exc:
                error = exc
        if len(items) == 1:
            _, line_offset, line = items[0]
            message = str(error).replace("JSON parse error: ", "").split(" in row ")[0]
            bad.append(_bad_record(url, line_offset, line, f"unconvertible: {message}"))
            return
        middle = len(items) // 2
        parse(items[:middle])
        parse(items[middle:])

    if good:
        parse(good)
    return BlockResult(_merge_compatible_tables(tables), bad, records, blank)


def _merge_compatible_tables(tables: list[pa.Table]) -> list[pa.Table]:
    """Concatenate the pieces of one block whose schemas merge without conflict (few, large pieces)."""
    groups: list[list[pa.Table]] = []
    schemas: list[pa.Schema] = []
    for table in tables:
        for index, schema in enumerate(schemas):
            observations = [*_observe_table(table), *_observe_schema(schema)]
            names = [n for n in schema.names if n != LINE]
            names += [n for n in table.column_names if n not in names and n != LINE]
            resolution = resolve_schema(observations, names, None, null_as_string=False)
            if not resolution.conflicts:
                schemas[index] = pa.schema([*resolution.schema, pa.field(LINE, pa.int32())])
                groups[index].append(table)
                break
        else:
            groups.append([table])
            schemas.append(table.schema)
    merged = []
    for schema, group in zip(schemas, groups, strict=True):
        if len(group) == 1:
            merged.append(group[0])
            continue
        data_schema = pa.schema([f for f in schema if f.name != LINE])
        parts = []
        for table in group:
            conformed, bad = conform_table(table.drop_columns([LINE]), data_schema)
            assert not bad, "merged only when conflict-free"
            parts.append(conformed.append_column(LINE, table.column(LINE)))
        merged.append(pa.concat_tables(parts))
    return merged


def _observe_schema(schema: pa.Schema) -> list[tuple[str, pa.DataType, int]]:
    out: list[tuple[str, pa.DataType, int]] = []

    def walk(path: str, data_type: pa.DataType) -> None:
        out.append((path, data_type, 1))
        if pa.types.is_struct(data_type):
            for field in data_type:
                walk(f"{path}.{field.name}", field.type)
        elif pa.types.is_list(data_type):
            walk(f"{path}[]", data_type.value_type)

    for field in schema:
        if field.name != LINE:
            walk(field.name, field.type)
    return out


def _estimate_ratio(table: pa.Table, codec: str) -> float:
    """Parquet bytes per Arrow byte for this codec, measured on a sample of the piece."""
    sample = table.slice(0, SAMPLE_ROWS)
    if sample.nbytes == 0:
        return 0.1
    sink = pa.BufferOutputStream()
    pq.write_table(sample, sink, compression=PYARROW_CODECS[codec])
    return sink.getvalue().size / sample.nbytes


def _write_ipc(location: str, table: pa.Table) -> None:
    filesystem, path = _fs(location)
    _make_parent(filesystem, path)
    with (
        filesystem.open_output_stream(path, compression=None) as sink,
        paipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)


def _read_ipc(location: str) -> pa.Table:
    if not location.startswith("s3://"):
        with pa.memory_map(location) as source:
            return paipc.open_file(source).read_all()
    filesystem, path = _fs(location)
    with filesystem.open_input_file(path) as source:
        return paipc.open_file(source).read_all()


def _guard(function: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Run a task body, turning exceptions into values so the driver can raise a named JobError."""

    def run(task: Any) -> dict[str, Any]:
        cpu = time.process_time()
        try:
            result = function(task)
            result["cpu_seconds"] = time.process_time() - cpu
            return result
        except JobError as exc:
            return {"error": [exc.error_name, exc.message]}
        except Exception as exc:
            return {"error": ["TaskFailed", f"{type(exc).__name__}: {exc}"]}

    return run


def read_task(task: ReadTask, codec: str) -> dict[str, Any]:
    """Stage 1 body: parse the task's lines, stage typed pieces (Arrow IPC) and quarantined lines (NDJSON)."""
    _use_s3_options(dict(task.s3_options))
    pieces: list[dict[str, Any]] = []
    bad_lines: list[bytes] = []
    bad_reasons: dict[str, int] = {}
    records = blank = 0
    ratio: float | None = None
    for part_number, part in enumerate(task.parts):
        try:
            compressed = part.compressed
            if compressed is None:
                compressed = part.location.endswith(".gz") or _has_gzip_magic(part.location)
            blocks = iter_blocks(part.location, compressed, part.start, part.end)
            for block_number, (raw_offset, raw_block) in enumerate(blocks):
                offset, block = _strip_bom(raw_offset, raw_block)
                result = parse_block(part.url, offset, block)
                records += result.records
                blank += result.blank
                for record in result.bad:
                    kind = record["reason"].split(":", 1)[0]
                    bad_reasons[kind] = bad_reasons.get(kind, 0) + 1
                    bad_lines.append(json.dumps(record, ensure_ascii=False).encode("utf-8"))
                for piece_number, table in enumerate(result.tables):
                    name = f"{task.index:05d}-{part_number:04d}-{block_number:05d}-{piece_number:03d}.arrow"
                    location = _join(task.staging, "pieces", name)
                    if ratio is None:
                        ratio = _estimate_ratio(table.drop_columns([LINE]), codec)
                    try:
                        _write_ipc(location, table)
                    except OSError as exc:  # staging (disk full, S3 refusing the PUT): not the input's fault
                        raise JobError(
                            "TaskFailed",
                            f"cannot write the staged piece {location}: {type(exc).__name__}: {exc}",
                        ) from exc
                    pieces.append(
                        {
                            "location": location,
                            "rows": table.num_rows,
                            "arrow_bytes": table.nbytes,
                            "observations": _observe_table(table),
                            "columns": table.column_names,
                            "url": part.url,
                            "source": part.location,
                            "compressed": compressed,
                            "block_offset": offset,
                            "block_length": len(block),
                            "task": task.index,
                        }
                    )
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise JobError(
                "InputFileUnreadable",
                f"cannot read {part.url}: {type(exc).__name__}: {exc}; fix "
                "or remove the file and re-run the manifest",
            ) from exc
    bad_location = None
    if bad_lines:
        bad_location = _join(task.staging, "bad", f"bad-records.read-{task.index:05d}.ndjson")
        _write_bytes(bad_location, b"\n".join(bad_lines) + b"\n")
    return {
        "task": task.index,
        "pieces": pieces,
        "records": records,
        "blank": blank,
        "bad": len(bad_lines),
        "bad_reasons": bad_reasons,
        "bad_location": bad_location,
        "ratio": ratio,
    }


# --------------------------------------------------------------------------------------------------------------
# Stage 2: conform + write Parquet (inside Spark tasks)
# --------------------------------------------------------------------------------------------------------------


def _reread_records(piece: dict[str, Any], ordinals: list[int]) -> dict[int, tuple[int, bytes]]:
    """The raw lines (with offsets) of a piece's records, for quarantining conversion failures."""
    wanted = set(ordinals)
    found: dict[int, tuple[int, bytes]] = {}
    block_offset, length = piece["block_offset"], piece["block_length"]
    stream = _open_text(piece["source"], piece["compressed"])
    try:
        stream.seek(block_offset)
        block = stream.read(length)
    finally:
        stream.close()
    ordinal = -1
    position = block_offset
    for line in block.split(b"\n"):
        line_offset = position
        position += len(line) + 1
        if not line.strip(JSON_WHITESPACE):
            continue
        ordinal += 1
        if ordinal in wanted:
            found[ordinal] = (line_offset, line)
    return found


def _leaves(array: pa.Array, path: str, out: dict[str, pa.Array]) -> None:
    if pa.types.is_struct(array.type):
        for index, child in enumerate(array.flatten()):
            _leaves(child, f"{path}.{array.type.field(index).name}", out)
    elif pa.types.is_list(array.type):
        _leaves(array.flatten(), f"{path}.list.element", out)
    else:
        out[path] = array


def dictionary_columns(table: pa.Table) -> list[str]:
    """Parquet column paths worth dictionary-encoding: string columns with few distinct values. Numbers and
    timestamps compress better PLAIN + codec (as DuckDB writes them), and so do near-unique strings."""
    leaves: dict[str, pa.Array] = {}
    sample = table.slice(0, DICTIONARY_SAMPLE_ROWS)
    for name in sample.column_names:
        column = sample.column(name)
        _leaves(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0), name, leaves)
    chosen = []
    for path, array in leaves.items():
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            continue
        values = len(array) - array.null_count
        if values == 0 or pc.count_distinct(array).as_py() <= DICTIONARY_MAX_DISTINCT_RATIO * values:
            chosen.append(path)
    return chosen


@dataclass(frozen=True)
class WriteTask:
    index: int
    pieces: tuple[dict[str, Any], ...]
    schema: pa.Schema
    codec: str
    target_bytes: int
    out_dir: str
    bad_dir: str
    manifest_id: str
    ingested_at: dt.datetime
    s3_options: tuple[tuple[str, str], ...] = ()


def write_task(task: WriteTask) -> dict[str, Any]:
    """Stage 2 body: conform the pieces to the batch schema and write Parquet files of about target_bytes."""
    _use_s3_options(dict(task.s3_options))
    out_schema = pa.schema(
        [
            *task.schema,
            pa.field("_source_file", pa.string()),
            pa.field("_manifest_id", pa.string()),
            pa.field("_ingested_at", TS_TYPE),
        ]
    )
    files: list[dict[str, Any]] = []
    bad_lines: list[bytes] = []
    bad_reasons: dict[str, int] = {}
    rows_out = 0
    state: dict[str, Any] = {"writer": None, "sink": None, "path": None, "rows": 0}
    buffer: list[pa.Table] = []
    buffered = 0

    def close_file() -> None:
        if state["writer"] is not None:
            state["writer"].close()
            state["sink"].close()
            filesystem, path = _fs(state["path"])
            size = filesystem.get_file_info(path).size
            files.append({"staged": state["path"], "rows": state["rows"], "bytes": size})
            state.update(writer=None, sink=None, path=None, rows=0)

    # Row groups small enough that a file can be closed near the target size (at most ROW_GROUP_ROWS rows).
    rows_total = sum(p["rows"] for p in task.pieces) or 1
    bytes_per_row = max(1e-3, sum(p["arrow_bytes"] * p["ratio"] for p in task.pieces) / rows_total)
    group_rows = int(max(1024, min(ROW_GROUP_ROWS, task.target_bytes / bytes_per_row / 4)))

    def flush(final: bool = False) -> None:
        """Write the buffered rows as full row groups (and the remainder too when final)."""
        nonlocal buffered
        if not buffer:
            return
        table = pa.concat_tables(buffer)
        buffer.clear()
        buffered = 0
        for offset in range(0, table.num_rows, group_rows):
            part = table.slice(offset, group_rows)
            if part.num_rows < group_rows and not final:
                buffer.append(part)
                buffered = part.num_rows
                break
            if state["writer"] is None:
                name = f"{task.manifest_id}.part-{task.index:05d}-{len(files):03d}.parquet"
                state["path"] = _join(task.out_dir, name)
                filesystem, path = _fs(state["path"])
                _make_parent(filesystem, path)
                state["sink"] = filesystem.open_output_stream(path, compression=None)
                state["writer"] = pq.ParquetWriter(
                    state["sink"],
                    out_schema,
                    compression=PYARROW_CODECS[task.codec],
                    compression_level=CODEC_LEVELS.get(task.codec),
                    use_dictionary=dictionary_columns(part),
                )
            before = state["sink"].tell()
            state["writer"].write_table(part, row_group_size=group_rows)
            state["rows"] += part.num_rows
            written = state["sink"].tell()
            if written + (written - before) / 2 >= task.target_bytes:  # the next group would overshoot
                close_file()

    for piece in task.pieces:
        table = _read_ipc(piece["location"])
        lines = table.column(LINE)
        conformed, bad = conform_table(table.drop_columns([LINE]), task.schema)
        if bad:
            ordinals = lines.to_pylist()
            raw = _reread_records(piece, [ordinals[row] for row in bad])
            for row, reason in sorted(bad.items()):
                line_offset, line = raw[ordinals[row]]
                bad_lines.append(
                    json.dumps(
                        _bad_record(piece["url"], line_offset, line, reason), ensure_ascii=False
                    ).encode("utf-8")
                )
                bad_reasons["type_conflict"] = bad_reasons.get("type_conflict", 0) + 1
            keep = pa.array([row not in bad for row in range(conformed.num_rows)])
            conformed = conformed.filter(keep)
        count = conformed.num_rows
        if count == 0:
            continue
        conformed = (
            conformed.append_column("_source_file", pa.repeat(pa.scalar(piece["url"]), count))
            .append_column("_manifest_id", pa.repeat(pa.scalar(task.manifest_id), count))
            .append_column("_ingested_at", pa.repeat(pa.scalar(task.ingested_at, TS_TYPE), count))
        )
        buffer.append(conformed)
        buffered += count
        rows_out += count
        if buffered >= group_rows:
            flush()
    flush(final=True)
    close_file()
    bad_location = None
    if bad_lines:
        bad_location = _join(task.bad_dir, f"bad-records.convert-{task.index:05d}.ndjson")
        _write_bytes(bad_location, b"\n".join(bad_lines) + b"\n")
    return {
        "task": task.index,
        "files": files,
        "rows": rows_out,
        "bad": len(bad_lines),
        "bad_reasons": bad_reasons,
        "bad_location": bad_location,
    }


# --------------------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------------------


def load_schema(schema_path: str) -> pa.Schema:
    """An explicit schema: Spark's StructType JSON (`df.schema.json()`)."""
    try:
        doc = json.loads(_read_bytes(_normalise(schema_path)).decode("utf-8-sig"))
    except (OSError, FileNotFoundError) as exc:
        raise JobError("SchemaNotFound", f"cannot read --SCHEMA_PATH {schema_path}: {exc}") from exc
    except ValueError as exc:
        raise JobError("InvalidSchema", f"--SCHEMA_PATH {schema_path} is not valid JSON: {exc}") from exc
    try:
        if not isinstance(doc, dict) or doc.get("type") != "struct":
            raise ValueError(
                'the document must be a Spark StructType JSON ({"type": "struct", "fields": [...]})'
            )
        return pa.schema([pa.field(f["name"], _spark_type(f["type"])) for f in doc["fields"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError("InvalidSchema", f"--SCHEMA_PATH {schema_path}: {exc}") from exc


def _spark_type(spec: Any) -> pa.DataType:
    simple = {
        "string": pa.string(),
        "long": pa.int64(),
        "integer": pa.int32(),
        "short": pa.int16(),
        "byte": pa.int8(),
        "double": pa.float64(),
        "float": pa.float32(),
        "boolean": pa.bool_(),
        "timestamp": TS_TYPE,
        "timestamp_ntz": TS_TYPE,
        "date": pa.date32(),
    }
    if isinstance(spec, str):
        if spec in simple:
            return simple[spec]
        match = re.match(r"^decimal\((\d+),\s*(\d+)\)$", spec)
        if match:
            return pa.decimal128(int(match.group(1)), int(match.group(2)))
        raise ValueError(
            f"unsupported type '{spec}' (use string, long, integer, double, boolean, timestamp, "
            "date, decimal(p,s), array, struct)"
        )
    if isinstance(spec, dict) and spec.get("type") == "struct":
        return pa.struct([pa.field(f["name"], _spark_type(f["type"])) for f in spec["fields"]])
    if isinstance(spec, dict) and spec.get("type") == "array":
        return pa.list_(_spark_type(spec["elementType"]))
    raise ValueError(f"unsupported type {spec!r}")


def _has_gzip_magic(location: str) -> bool:
    filesystem, path = _fs(location)
    with filesystem.open_input_stream(path, compression=None) as head:
        return head.read(2) == b"\x1f\x8b"


def _plan_reads(
    manifest: Manifest, staging: str, parallelism: int = 1
) -> tuple[list[ReadTask], list[str], int]:
    """Check the entries exist; split large plain files into ranges, pack small files into tasks of up to
    SPLIT_BYTES (fewer, larger tasks), keeping at least 2 tasks per core when the batch allows it."""
    missing_mandatory: list[str] = []
    skipped: list[str] = []
    parts: list[FilePart] = []
    bytes_in = 0
    infos: dict[str, pafs.FileInfo] = {}
    by_filesystem: dict[bool, list[Entry]] = {}
    for entry in manifest.entries:
        by_filesystem.setdefault(entry.location.startswith("s3://"), []).append(entry)
    for entries in by_filesystem.values():
        filesystem, _ = _fs(entries[0].location)
        try:  # one call per filesystem: pyarrow issues the S3 HEAD requests concurrently
            found = filesystem.get_file_info([_fs(e.location)[1] for e in entries])
        except OSError as exc:
            raise JobError("InputFileUnreadable", f"cannot list the manifest's files: {exc}") from exc
        infos.update({e.location: info for e, info in zip(entries, found, strict=True)})
    for entry in manifest.entries:
        info = infos[entry.location]
        if info.type != pafs.FileType.File:
            if entry.mandatory:
                missing_mandatory.append(entry.url)
            else:
                skipped.append(entry.url)
            continue
        size = info.size or 0
        bytes_in += size
        if entry.location.endswith(".gz"):
            parts.append(FilePart(entry.url, entry.location, 0, None, True, size * GZIP_EXPANSION))
        elif size <= SPLIT_BYTES or _has_gzip_magic(entry.location):
            parts.append(FilePart(entry.url, entry.location, 0, None, None, size))
        else:
            count = math.ceil(size / SPLIT_BYTES)
            step = math.ceil(size / count)
            for start in range(0, size, step):
                end = min(size, start + step)
                parts.append(FilePart(entry.url, entry.location, start, end, False, end - start))
    if missing_mandatory:
        raise JobError(
            "ManifestEntryMissing",
            f"mandatory file(s) not found: {', '.join(missing_mandatory)}; restore them or mark the "
            'entries "mandatory": false, then re-run the manifest',
        )
    total = sum(part.size for part in parts)
    pack_bytes = max(1, min(SPLIT_BYTES, total // max(1, 2 * parallelism)))
    tasks: list[ReadTask] = []
    current: list[FilePart] = []
    for part in parts:
        if current and (
            sum(p.size for p in current) + part.size > pack_bytes or len(current) >= MAX_FILES_PER_TASK
        ):
            tasks.append(ReadTask(len(tasks), tuple(current), staging, sum(p.size for p in current)))
            current = []
        current.append(part)
    if current:
        tasks.append(ReadTask(len(tasks), tuple(current), staging, sum(p.size for p in current)))
    return tasks, skipped, bytes_in


def _run_tasks(
    spark: Any, function: Callable[[Any], dict[str, Any]], tasks: list[Any], description: str
) -> list[dict[str, Any]]:
    if not tasks:
        return []
    context = spark.sparkContext
    context.setJobDescription(description)
    try:
        results = context.parallelize(tasks, len(tasks)).map(_guard(function)).collect()
    finally:
        context.setJobDescription(None)  # type: ignore[arg-type]
    for result in results:
        if "error" in result:
            name, message = result["error"]
            raise JobError(name, message)
    return results


def _group_pieces(pieces: list[dict[str, Any]], target_bytes: int) -> list[list[dict[str, Any]]]:
    if not pieces:
        return []
    estimates = [piece["arrow_bytes"] * piece["ratio"] for piece in pieces]
    total = sum(estimates)
    count = max(1, math.ceil(total / target_bytes))
    share = total / count
    groups: list[list[dict[str, Any]]] = [[]]
    filled = 0.0
    for piece, estimate in zip(pieces, estimates, strict=True):
        if groups[-1] and filled + estimate / 2 > share and len(groups) < count:
            groups.append([])
            filled = 0.0
        groups[-1].append(piece)
        filled += estimate
    return groups


def _publish_replacing(staged: list[str], target_dir: str, owned: Callable[[str], bool]) -> list[str]:
    """Move the staged files into target_dir, then delete the files of this manifest that were not replaced."""
    previous = [path for path in _list_files(target_dir) if owned(path.rsplit("/", 1)[-1])]
    published = []
    for source in staged:
        target = _join(target_dir, source.rsplit("/", 1)[-1])
        _move(source, target)
        published.append(target)
    for old in previous:
        if old not in published:
            _delete(old)
    return published


def _owned_by(manifest_id: str) -> Callable[[str], bool]:
    return lambda name: name.split(".part-", 1)[0] == manifest_id and name.endswith(".parquet")


def preflight(args: JobArgs) -> Manifest:
    """The checks that need no Spark: codec, manifest, manifest id, schema, mandatory entries present. `main`
    runs them before starting a JVM so that these mistakes are reported in a fraction of a second."""
    check_codec(args.compression)
    _use_s3_options(s3_options_from_env())
    manifest = load_manifest(args.manifest_path)
    if args.manifest_id and args.manifest_id != manifest.manifest_id:
        raise JobError(
            "ManifestIdMismatch",
            f"--MANIFEST_ID {args.manifest_id} does not match manifest_id "
            f"{manifest.manifest_id} in {args.manifest_path}",
        )
    if args.schema_path:
        load_schema(args.schema_path)
    _plan_reads(manifest, "")
    return manifest


def run_job(spark: Any, args: JobArgs) -> dict[str, Any]:
    """Convert one manifest. Returns the job report (also written to OUTPUT_PATH/_reports/<id>.json)."""
    started = time.monotonic()
    ingested_at = dt.datetime.now(dt.UTC)
    check_codec(args.compression)
    s3_options = s3_options_from_env()
    _use_s3_options(s3_options)
    shipped = tuple(sorted(s3_options.items()))
    manifest = load_manifest(args.manifest_path)
    if args.manifest_id and args.manifest_id != manifest.manifest_id:
        raise JobError(
            "ManifestIdMismatch",
            f"--MANIFEST_ID {args.manifest_id} does not match manifest_id "
            f"{manifest.manifest_id} in {args.manifest_path}",
        )
    explicit = load_schema(args.schema_path) if args.schema_path else None
    output = _normalise(args.output_path)
    bad_root = _normalise(args.bad_records_path)
    run_id = f"{ingested_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    staging = _join(output, "_staging", manifest.manifest_id, run_id)
    partition_dir = _join(output, f"dt={manifest.date_prefix}")
    bad_dir = _join(bad_root, f"dt={manifest.date_prefix}", f"manifest_id={manifest.manifest_id}")
    timings: dict[str, float] = {}
    report: dict[str, Any] = {
        "manifest_id": manifest.manifest_id,
        "date_prefix": manifest.date_prefix,
        "job_name": args.job_name,
        "codec": args.compression,
        "timings": timings,
    }
    try:
        tasks, skipped, bytes_in = _plan_reads(manifest, staging, spark.sparkContext.defaultParallelism)
        tasks = [dataclasses.replace(task, s3_options=shipped) for task in tasks]
        timings["plan"] = round(time.monotonic() - started, 3)
        mark = time.monotonic()
        read_results = _run_tasks(
            spark,
            lambda t: read_task(t, args.compression),
            sorted(tasks, key=lambda t: -t.size),  # largest first
            f"ndjson_to_parquet {manifest.manifest_id}: parse",
        )
        read_results.sort(key=lambda r: r["task"])
        timings["parse_task_cpu"] = round(sum(r["cpu_seconds"] for r in read_results), 3)
        mark_write = time.monotonic()
        timings["parse"] = round(mark_write - mark, 3)
        pieces = [piece for result in read_results for piece in result["pieces"]]
        for result in read_results:
            for piece in result["pieces"]:
                piece["ratio"] = result["ratio"] or 0.1
        records_in = sum(r["records"] for r in read_results)
        bad_reasons: dict[str, int] = {}
        for result in read_results:
            for kind, count in result["bad_reasons"].items():
                bad_reasons[kind] = bad_reasons.get(kind, 0) + count
        bad_staged = [r["bad_location"] for r in read_results if r["bad_location"]]
        bad_count = sum(r["bad"] for r in read_results)

        observations = [obs for piece in pieces for obs in piece["observations"]]
        top_level: list[str] = []
        for piece in pieces:
            top_level.extend(c for c in piece["columns"] if c != LINE and c not in top_level)
        clashes = [name for name in top_level if name in META_COLUMNS]
        if clashes:
            raise JobError(
                "ReservedColumn",
                f"the input has field(s) {', '.join(clashes)} reserved for the "
                "job's metadata columns; rename them upstream",
            )
        resolution = resolve_schema(observations, top_level, explicit)

        write_results: list[dict[str, Any]] = []
        if bad_count <= args.max_bad_record_ratio * records_in:
            groups = _group_pieces(pieces, args.target_file_mb * 1024 * 1024)
            write_tasks = [
                WriteTask(
                    i,
                    tuple(g),
                    resolution.schema,
                    args.compression,
                    args.target_file_mb * 1024 * 1024,
                    _join(staging, "out"),
                    _join(staging, "bad"),
                    manifest.manifest_id,
                    ingested_at,
                    shipped,
                )
                for i, g in enumerate(groups)
            ]
            timings["resolve"] = round(time.monotonic() - mark_write, 3)
            mark_write = time.monotonic()
            write_results = _run_tasks(
                spark, write_task, write_tasks, f"ndjson_to_parquet {manifest.manifest_id}: write"
            )
            timings["write"] = round(time.monotonic() - mark_write, 3)
            timings["write_task_cpu"] = round(sum(r["cpu_seconds"] for r in write_results), 3)
        for result in write_results:
            bad_count += result["bad"]
            for kind, count in result["bad_reasons"].items():
                bad_reasons[kind] = bad_reasons.get(kind, 0) + count
            if result["bad_location"]:
                bad_staged.append(result["bad_location"])
        records_out = sum(r["rows"] for r in write_results)
        ratio_ok = bad_count <= args.max_bad_record_ratio * records_in
        report.update(
            {
                "files": len({part.url for t in tasks for part in t.parts}),
                "files_skipped": skipped,
                "records_in": records_in,
                "records_out": records_out if ratio_ok else 0,
                "bad_records": bad_count,
                "bad_records_by_reason": bad_reasons,
                "blank_lines": sum(r["blank"] for r in read_results),
                "bytes_in": bytes_in,
                "schema": [{"name": f.name, "type": str(f.type)} for f in resolution.schema]
                + [
                    {"name": "_source_file", "type": "string"},
                    {"name": "_manifest_id", "type": "string"},
                    {"name": "_ingested_at", "type": str(TS_TYPE)},
                ],
                "type_conflicts": resolution.conflicts,
                "ignored_fields": resolution.ignored_fields,
                "bad_records_path": bad_dir if bad_count else None,
            }
        )
        # Publish: quarantine first (also when the ratio is exceeded), then the Parquet files.
        _publish_replacing(bad_staged, bad_dir, lambda name: name.startswith("bad-records."))
        if not ratio_ok:
            report.update(
                {
                    "status": "failed",
                    "error": "BadRecordRatioExceeded",
                    "output_files": [],
                    "records_not_published": records_in - bad_count,
                    "bytes_out": 0,
                    "seconds": round(time.monotonic() - started, 3),
                }
            )
            _write_report(output, report)
            raise JobError(
                "BadRecordRatioExceeded",
                f"{bad_count} of {records_in} records are bad ({bad_count / max(records_in, 1):.2%}), "
                f"above --MAX_BAD_RECORD_RATIO {args.max_bad_record_ratio}; nothing was published for "
                f"manifest {manifest.manifest_id}; the bad lines are in {bad_dir}",
                {"records_in": records_in, "bad_records": bad_count},
            )
        staged_files = [f for r in write_results for f in r["files"]]
        published = _publish_replacing(
            [f["staged"] for f in staged_files], partition_dir, _owned_by(manifest.manifest_id)
        )
        report.update(
            {
                "status": "succeeded",
                "output_files": published,
                "bytes_out": sum(f["bytes"] for f in staged_files),
                "seconds": round(time.monotonic() - started, 3),
            }
        )
        _write_report(output, report)
        return report
    finally:
        _delete_dir(staging)
        _cleanup_empty_staging(output, manifest.manifest_id)


def _cleanup_empty_staging(output: str, manifest_id: str) -> None:
    if output.startswith("s3://"):
        return  # S3 has no directories
    for directory in (Path(output) / "_staging" / manifest_id, Path(output) / "_staging"):
        try:
            directory.rmdir()
        except OSError:
            return


def _write_report(output: str, report: dict[str, Any]) -> None:
    target = _join(output, "_reports", f"{report['manifest_id']}.json")
    body = json.dumps(report, indent=2, default=str).encode("utf-8")
    if target.startswith("s3://"):  # a PUT is atomic on S3
        _write_bytes(target, body)
        return
    temporary = _join(output, "_reports", f".{report['manifest_id']}.{uuid.uuid4().hex[:8]}.tmp")
    _write_bytes(temporary, body)
    _move(temporary, target)


# --------------------------------------------------------------------------------------------------------------
# Entry point: AWS Glue, python, spark-submit
# --------------------------------------------------------------------------------------------------------------


def _local_session() -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ndjson_to_parquet")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # plain `python`: not launched by spark-submit
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.master("local[*]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        )
    builder = builder.config("spark.sql.session.timeZone", "UTC").config(
        "spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise JobError(
            "SparkUnavailable",
            f"could not start Spark ({type(exc).__name__}: {exc}); Spark 3.5 "
            "needs Java 17 on PATH or JAVA_HOME",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def main(argv: list[str] | None = None) -> int:
    """Script entry point: prints the report as one JSON line, or `ErrorName: sentence` on stderr."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return 0
    try:
        from awsglue.context import GlueContext  # type: ignore[import-not-found]
        from awsglue.job import Job  # type: ignore[import-not-found]
        from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    except ImportError:
        GlueContext = None
    try:
        if GlueContext is not None:  # on AWS Glue
            names = list(REQUIRED_ARGS) + [n for n in OPTIONAL_ARGS if f"--{n}" in argv]
            try:
                resolved = getResolvedOptions(["script", *argv], names)
            except SystemExit as exc:  # argparse inside getResolvedOptions
                raise JobError("MissingArgument", f"Glue arguments could not be resolved: {exc}") from exc
            args = parse_job_args([token for name in names for token in (f"--{name}", resolved[name])])
            from pyspark.context import SparkContext

            glue_context = GlueContext(SparkContext.getOrCreate())
            spark = glue_context.spark_session
            spark.conf.set("spark.sql.session.timeZone", "UTC")
            job = Job(glue_context)
            job.init(args.job_name, resolved)
            report = run_job(spark, args)
            print(json.dumps(report, separators=(",", ":"), default=str), flush=True)
            job.commit()
            return 0
        args = parse_job_args(argv)
        preflight(args)
        spark = _local_session()
        try:
            report = run_job(spark, args)
        finally:
            spark.stop()
        print(json.dumps(report, separators=(",", ":"), default=str), flush=True)
        return 0
    except JobError as exc:
        print(f"{exc.error_name}: {exc.message}", file=sys.stderr, flush=True)
        if GlueContext is not None:
            raise  # the Glue job run fails with "ErrorName: sentence" as its error message
        return 1
    except Exception as exc:  # a bug or an environment problem: keep the traceback, end with the one-liner
        traceback.print_exc()
        print(
            f"InternalError: {type(exc).__name__}: {exc}; this is a bug or an environment problem, please "
            "report it with the traceback above",
            file=sys.stderr,
            flush=True,
        )
        if GlueContext is not None:
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
