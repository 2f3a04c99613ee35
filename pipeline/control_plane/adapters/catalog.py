"""Glue Data Catalog registration of the output table, so Athena and Spark find it with no crawler.

Pure part: the job report's schema (a list of `{"name", "type"}` with Arrow type strings as
glue_jobs/ndjson_to_parquet/ reports it, Spark simpleStrings, or Spark's `StructType.jsonValue()` JSON) mapped to Hive/Glue column types under Athena's naming rules, and the merge of a new schema
into the table's columns (new columns appended, existing ones never retyped or dropped).

Adapter part: `register_manifest_output(glue, database, table, location, date_prefix, report)`, called after each
successful manifest: creates the table (Parquet SerDe, partition key `dt`) on first use, appends drifted columns,
adds the date's partition (never moving an existing partition's location: `pipeline replay` owns that), and is
idempotent and safe to run concurrently for different manifests.

Athena's rules (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html): names are lower
case, 1..255 bytes; in complex types only letters, digits and `_` are safe. Athena reads Parquet columns by name,
case-insensitively, so a field whose lower-cased name breaks these rules (or collides with another field's) cannot be
mapped: it is left out of the catalog and reported in `RegistrationResult.skipped_columns`, never renamed (a renamed
column would read back as NULL).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

PARTITION_KEY = "dt"
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
MAX_NAME_BYTES = 255
_NAME = re.compile(r"[a-z0-9_]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Spark simple type names (and their JSON spelling) -> Hive.
_SPARK_SIMPLE = {
    "string": "string",
    "varchar": "string",
    "char": "string",
    "long": "bigint",
    "bigint": "bigint",
    "integer": "int",
    "int": "int",
    "short": "smallint",
    "smallint": "smallint",
    "byte": "tinyint",
    "tinyint": "tinyint",
    "double": "double",
    "float": "float",
    "real": "float",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "timestamp_ltz": "timestamp",
    "date": "date",
    "binary": "binary",
    # An all-NULL field: Parquet stores no type worth keeping, string reads it back as NULL.
    "null": "string",
    "void": "string",
}
# Arrow type names (`str(pyarrow.DataType)`) -> Hive.
_ARROW_SIMPLE = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "uint8": "smallint",
    "uint16": "int",
    "uint32": "bigint",
    "uint64": "decimal(20,0)",
    "halffloat": "float",
    "float16": "float",
    "float32": "float",
    "float64": "double",
    "bool": "boolean",
    "utf8": "string",
    "large_string": "string",
    "large_utf8": "string",
    "large_binary": "binary",
    "date32": "date",
    "date32[day]": "date",
    "date64": "date",
}
_DECIMAL = re.compile(r"(?:decimal|decimal128|decimal256)\(\s*(\d+)\s*,\s*(-?\d+)\s*\)")


class CatalogError(Exception):
    """A schema or catalog problem, with a stable `error_name`."""

    error_name = "CatalogError"


class UnsupportedSchema(CatalogError):
    error_name = "UnsupportedSchema"


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def as_glue(self) -> dict[str, str]:
        return {"Name": self.name, "Type": self.type}


@dataclass
class MappedSchema:
    columns: list[Column]
    skipped: list[str] = field(default_factory=list)  # "path: reason"


@dataclass
class RegistrationResult:
    database: str
    table: str
    partition_location: str
    table_created: bool = False
    partition_created: bool = False
    columns_added: list[str] = field(default_factory=list)
    type_conflicts: list[str] = field(default_factory=list)  # "column: table type vs new type"
    skipped_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "table": self.table,
            "partition_location": self.partition_location,
            "table_created": self.table_created,
            "partition_created": self.partition_created,
            "columns_added": self.columns_added,
            "type_conflicts": self.type_conflicts,
            "skipped_columns": self.skipped_columns,
        }


# ------------------------------------------------------------------------------------------ pure mapping


def athena_name(name: str) -> str | None:
    """The catalog spelling of a field name, or None when Athena cannot map it to the Parquet field."""
    lowered = name.lower()
    if not _NAME.fullmatch(lowered) or len(lowered.encode("utf-8")) > MAX_NAME_BYTES:
        return None
    return lowered


def _simple_type(type_name: str, path: str) -> str:
    text = type_name.strip().lower()
    decimal = _DECIMAL.fullmatch(text)
    if decimal:
        precision, scale = int(decimal.group(1)), int(decimal.group(2))
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise UnsupportedSchema(f"{path}: decimal({precision},{scale}) is outside Hive's decimal range.")
        return f"decimal({precision},{scale})"
    if text in _SPARK_SIMPLE:
        return _SPARK_SIMPLE[text]
    if text in _ARROW_SIMPLE:
        return _ARROW_SIMPLE[text]
    if text.startswith("timestamp"):  # Arrow: timestamp[us, tz=UTC]
        return "timestamp"
    if text in ("string", "binary"):
        return text
    raise UnsupportedSchema(f"{path}: the type {type_name!r} has no Hive equivalent this pipeline knows.")


def _split_top(body: str, separator: str) -> list[str]:
    """Split `body` on `separator` where no bracket of any kind is open."""
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(body):
        char = body[index]
        if char in "<[(":
            depth += 1
        elif char in ">])":
            depth -= 1
        elif depth == 0 and body.startswith(separator, index):
            parts.append(body[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(body[start:])
    return parts


def _name_and_type(text: str, path: str) -> tuple[str, str]:
    pieces = _split_top(text, ":")
    if len(pieces) < 2:
        raise UnsupportedSchema(f"{path}: cannot read the field {text!r} of a type string.")
    return pieces[0].strip(), ":".join(pieces[1:]).strip()


def _type_string(text: str, path: str, skipped: list[str]) -> str:
    """Arrow (`str(pyarrow.DataType)`) or Spark simpleString type -> Hive, nested types included."""
    text = text.strip()
    match = re.fullmatch(r"([a-z_0-9]+)<(.*)>(\[\d+\])?", text, flags=re.DOTALL)
    if match is None:
        return _simple_type(text, path)
    kind, body = match.group(1).lower(), match.group(2)
    if kind == "struct":
        raw_fields = []
        for part in _split_top(body, ","):
            if part.strip():
                name, type_text = _name_and_type(part, path)
                raw_fields.append({"name": name, "type": type_text})
        fields = _struct_fields(raw_fields, path, skipped)
        if not fields:
            raise UnsupportedSchema(f"{path}: the struct has no field that Athena can read.")
        return "struct<" + ",".join(f"{col.name}:{col.type}" for col in fields) + ">"
    if kind in ("list", "large_list", "fixed_size_list", "array", "list_view", "large_list_view"):
        element = body
        if len(_split_top(body, ":")) > 1:  # Arrow names the element: list<item: T>
            _name, element = _name_and_type(body, path)
        return f"array<{_type_string(element, path + '[]', skipped)}>"
    if kind == "map":
        parts = _split_top(body, ",")
        if len(parts) != 2:
            raise UnsupportedSchema(f"{path}: cannot read the map type {text!r}.")
        key = _type_string(parts[0], path + "{key}", skipped)
        value = _type_string(parts[1], path + "{value}", skipped)
        return f"map<{key},{value}>"
    if kind == "dictionary":
        for part in _split_top(body, ","):
            name, _sep, value = part.strip().partition("=")
            if name == "values":
                return _type_string(value, path, skipped)
    raise UnsupportedSchema(f"{path}: the type {text!r} has no Hive equivalent this pipeline knows.")


def _hive_type(spark_type: Any, path: str, skipped: list[str]) -> str:
    """Spark JSON type (string or struct/array/map object) or Arrow type string -> Hive type string."""
    if isinstance(spark_type, str):
        return _type_string(spark_type, path, skipped)
    if not isinstance(spark_type, dict) or "type" not in spark_type:
        raise UnsupportedSchema(f"{path}: {spark_type!r} is not a Spark JSON type.")
    kind = spark_type["type"]
    if kind == "struct":
        fields = _struct_fields(spark_type.get("fields"), path, skipped)
        if not fields:
            # Hive has no empty struct; a struct whose fields were all unmappable carries nothing readable.
            raise UnsupportedSchema(f"{path}: the struct has no field that Athena can read.")
        return "struct<" + ",".join(f"{col.name}:{col.type}" for col in fields) + ">"
    if kind == "array":
        return f"array<{_hive_type(spark_type.get('elementType'), path + '[]', skipped)}>"
    if kind == "map":
        key = _hive_type(spark_type.get("keyType"), path + "{key}", skipped)
        value = _hive_type(spark_type.get("valueType"), path + "{value}", skipped)
        return f"map<{key},{value}>"
    if kind == "udt" and "sqlType" in spark_type:
        return _hive_type(spark_type["sqlType"], path, skipped)
    raise UnsupportedSchema(f"{path}: the Spark type {kind!r} has no Hive equivalent.")


def _struct_fields(raw_fields: Any, path: str, skipped: list[str]) -> list[Column]:
    if not isinstance(raw_fields, list):
        raise UnsupportedSchema(f"{path or 'schema'}: `fields` must be a list.")
    columns: list[Column] = []
    seen: dict[str, str] = {}
    for raw in raw_fields:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or "type" not in raw:
            raise UnsupportedSchema(f"{path or 'schema'}: every field needs a string `name` and a `type`.")
        original = raw["name"]
        where = f"{path}.{original}" if path else original
        name = athena_name(original)
        if name is None:
            skipped.append(f"{where}: Athena names allow only letters, digits and '_' (at most 255 bytes)")
            continue
        if name in seen:
            skipped.append(f"{where}: collides with {seen[name]!r} once lower-cased")
            continue
        try:
            hive = _hive_type(raw["type"], where, skipped)
        except UnsupportedSchema as exc:
            skipped.append(f"{where}: {exc}")
            continue
        seen[name] = original
        columns.append(Column(name, hive))
    return columns


def map_schema(schema: Any) -> MappedSchema:
    """The report's schema -> catalog columns (partition column `dt` excluded) and what had to be left out.

    Accepts Spark's `StructType.jsonValue()` (`{"type": "struct", "fields": [...]}`), its JSON string, or a plain list
    of `{"name", "type"}` fields (Spark or Arrow type names).
    """
    if isinstance(schema, str):
        import json

        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise UnsupportedSchema(f"The report's schema is not JSON: {exc.msg}.") from exc
    if isinstance(schema, dict) and schema.get("type") == "struct":
        raw_fields = schema.get("fields")
    elif isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        raw_fields = schema["fields"]
    elif isinstance(schema, list):
        raw_fields = schema
    else:
        raise UnsupportedSchema(
            "The report's schema must be a Spark struct JSON or a list of {name, type} fields."
        )
    skipped: list[str] = []
    columns = [col for col in _struct_fields(raw_fields, "", skipped) if col.name != PARTITION_KEY]
    if not columns:
        raise UnsupportedSchema("The report's schema has no column that Athena can read.")
    return MappedSchema(columns=columns, skipped=skipped)


def merge_columns(
    existing: list[Column], incoming: list[Column]
) -> tuple[list[Column], list[str], list[str]]:
    """Append the incoming columns the table lacks; never retype or drop one.

    Returns (merged columns, names added, type conflicts as "name: table type vs new type").
    """
    by_name = {col.name: col for col in existing}
    merged = list(existing)
    added: list[str] = []
    conflicts: list[str] = []
    for col in incoming:
        current = by_name.get(col.name)
        if current is None:
            merged.append(col)
            by_name[col.name] = col
            added.append(col.name)
        elif current.type != col.type:
            conflicts.append(f"{col.name}: table has {current.type}, new data has {col.type}")
    return merged, added, conflicts


def partition_location(location: str, date_prefix: str) -> str:
    return f"{location.rstrip('/')}/{PARTITION_KEY}={date_prefix}/"


def storage_descriptor(
    columns: list[Column], location: str, compression: str | None = None
) -> dict[str, Any]:
    parameters = {"classification": "parquet"}
    if compression:
        parameters["parquet.compression"] = compression.upper()
    return {
        "Columns": [col.as_glue() for col in columns],
        "Location": location,
        "InputFormat": INPUT_FORMAT,
        "OutputFormat": OUTPUT_FORMAT,
        "Compressed": bool(compression and compression.lower() not in ("none", "uncompressed")),
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"serialization.format": "1"}},
        "Parameters": parameters,
    }


def table_input(
    table: str, columns: list[Column], location: str, compression: str | None = None
) -> dict[str, Any]:
    return {
        "Name": table,
        "Description": "NDJSON events converted to Parquet by the ndjson-parquet pipeline (one partition per dt).",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", "has_encrypted_data": "true"},
        "StorageDescriptor": storage_descriptor(columns, location.rstrip("/") + "/", compression),
        "PartitionKeys": [
            {"Name": PARTITION_KEY, "Type": "string", "Comment": "UTC date prefix (YYYY-MM-DD)"}
        ],
    }


def validate_names(database: str, table: str) -> None:
    for kind, name in (("database", database), ("table", table)):
        if athena_name(name) != name:
            raise CatalogError(
                f"The Glue {kind} name {name!r} breaks Athena's naming rules: use lower-case letters, digits and "
                "'_' only (at most 255 bytes)."
            )


# ------------------------------------------------------------------------------------------ boto3 adapter


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _columns_of(descriptor: dict[str, Any]) -> list[Column]:
    return [Column(col["Name"], col["Type"]) for col in descriptor.get("Columns", [])]


def _get_table(glue: Any, database: str, table: str) -> dict[str, Any] | None:
    try:
        return glue.get_table(DatabaseName=database, Name=table)["Table"]  # type: ignore[no-any-return]
    except Exception as exc:
        if _error_code(exc) == "EntityNotFoundException":
            return None
        raise


def _table_input_from(existing: dict[str, Any], columns: list[Column]) -> dict[str, Any]:
    """TableInput for UpdateTable: the existing definition (only TableInput's keys) with new columns."""
    allowed = (
        "Name",
        "Description",
        "Owner",
        "Retention",
        "StorageDescriptor",
        "PartitionKeys",
        "TableType",
        "Parameters",
        "ViewOriginalText",
        "ViewExpandedText",
        "TargetTable",
    )
    result = {key: existing[key] for key in allowed if key in existing}
    descriptor = dict(result.get("StorageDescriptor") or {})
    descriptor["Columns"] = [col.as_glue() for col in columns]
    result["StorageDescriptor"] = descriptor
    return result


def _ensure_table(
    glue: Any,
    database: str,
    table: str,
    location: str,
    mapped: MappedSchema,
    compression: str | None,
    result: RegistrationResult,
) -> list[Column]:
    """Create the table or append drifted columns; returns the table's columns afterwards."""
    for _attempt in range(5):
        existing = _get_table(glue, database, table)
        if existing is None:
            try:
                glue.create_table(
                    DatabaseName=database,
                    TableInput=table_input(table, mapped.columns, location, compression),
                )
            except Exception as exc:
                if _error_code(exc) == "AlreadyExistsException":
                    continue  # a concurrent registration created it: merge into theirs
                raise
            result.table_created = True
            result.columns_added = [col.name for col in mapped.columns]
            return list(mapped.columns)
        current = _columns_of(existing.get("StorageDescriptor") or {})
        merged, added, conflicts = merge_columns(current, mapped.columns)
        result.type_conflicts = conflicts
        if not added:
            return current
        kwargs: dict[str, Any] = {"DatabaseName": database, "TableInput": _table_input_from(existing, merged)}
        if existing.get("VersionId"):
            kwargs["VersionId"] = existing[
                "VersionId"
            ]  # optimistic lock: a concurrent update makes us re-merge
        try:
            glue.update_table(**kwargs)
        except Exception as exc:
            if _error_code(exc) == "ConcurrentModificationException":
                continue
            raise
        result.columns_added = added
        logger.info("catalog table %s.%s: added columns %s", database, table, ", ".join(added))
        return merged
    raise CatalogError(
        f"The Glue table {database}.{table} kept changing under concurrent updates; retry later."
    )


def _ensure_partition(
    glue: Any,
    database: str,
    table: str,
    date_prefix: str,
    columns: list[Column],
    location: str,
    compression: str | None,
    result: RegistrationResult,
) -> None:
    try:
        existing = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=[date_prefix])
    except Exception as exc:
        if _error_code(exc) != "EntityNotFoundException":
            raise
        existing = None
    if existing is None:
        partition = {
            "Values": [date_prefix],
            "StorageDescriptor": storage_descriptor(columns, location, compression),
        }
        try:
            glue.create_partition(DatabaseName=database, TableName=table, PartitionInput=partition)
            result.partition_created = True
            return
        except Exception as exc:
            if _error_code(exc) != "AlreadyExistsException":
                raise
            existing = glue.get_partition(
                DatabaseName=database, TableName=table, PartitionValues=[date_prefix]
            )
    descriptor = dict(existing["Partition"].get("StorageDescriptor") or {})
    result.partition_location = descriptor.get("Location", location)
    current = _columns_of(descriptor)
    merged, added, _conflicts = merge_columns(current, columns)
    if added:
        # The partition keeps its location (a replay may point it at a snapshot); only its columns follow the table.
        descriptor["Columns"] = [col.as_glue() for col in merged]
        glue.update_partition(
            DatabaseName=database,
            TableName=table,
            PartitionValueList=[date_prefix],
            PartitionInput={"Values": [date_prefix], "StorageDescriptor": descriptor},
        )


def register_manifest_output(
    glue_client: Any, database: str, table: str, location: str, date_prefix: str, report: dict[str, Any]
) -> RegistrationResult:
    """Register one successful manifest's output: table (created or widened) and the `dt=<date_prefix>` partition.

    `location` is the table root (the Glue job's OUTPUT_PATH, `s3://bucket/prefix/`); `report` is the job report
    (its `schema` and `codec` are used). Idempotent; never moves an existing partition.
    """
    validate_names(database, table)
    if not _DATE.fullmatch(date_prefix):
        raise CatalogError(f"The date prefix {date_prefix!r} is not YYYY-MM-DD.")
    if not location.startswith("s3://"):
        raise CatalogError(f"The table location {location!r} must be an s3:// URL.")
    if "schema" not in report:
        raise UnsupportedSchema(
            "The job report has no `schema`: the Glue job must report the schema it wrote."
        )
    mapped = map_schema(report["schema"])
    codec = report.get("codec")
    compression = str(codec) if codec else None
    result = RegistrationResult(
        database=database,
        table=table,
        partition_location=partition_location(location, date_prefix),
        skipped_columns=list(mapped.skipped),
    )
    if mapped.skipped:
        logger.warning(
            "catalog: %d field(s) left out of %s.%s: %s",
            len(mapped.skipped),
            database,
            table,
            "; ".join(mapped.skipped),
        )
    columns = _ensure_table(glue_client, database, table, location, mapped, compression, result)
    if result.type_conflicts:
        logger.warning("catalog: type drift kept the table's types: %s", "; ".join(result.type_conflicts))
    _ensure_partition(
        glue_client, database, table, date_prefix, columns, result.partition_location, compression, result
    )
    return result


def set_partition_location(
    glue_client: Any, database: str, table: str, date_prefix: str, location: str
) -> bool:
    """Point an existing partition at `location` (one atomic catalog update); False when there is no partition."""
    try:
        existing = glue_client.get_partition(
            DatabaseName=database, TableName=table, PartitionValues=[date_prefix]
        )
    except Exception as exc:
        if _error_code(exc) == "EntityNotFoundException":
            return False
        raise
    descriptor = dict(existing["Partition"].get("StorageDescriptor") or {})
    descriptor["Location"] = location
    glue_client.update_partition(
        DatabaseName=database,
        TableName=table,
        PartitionValueList=[date_prefix],
        PartitionInput={"Values": [date_prefix], "StorageDescriptor": descriptor},
    )
    return True


def get_partition_location(glue_client: Any, database: str, table: str, date_prefix: str) -> str | None:
    try:
        existing = glue_client.get_partition(
            DatabaseName=database, TableName=table, PartitionValues=[date_prefix]
        )
    except Exception as exc:
        if _error_code(exc) == "EntityNotFoundException":
            return None
        raise
    return str(existing["Partition"].get("StorageDescriptor", {}).get("Location") or "") or None


# ------------------------------------------------------------------------------------------ Lambda wiring

CATALOG_ENV = ("GLUE_DATABASE", "GLUE_TABLE", "OUTPUT_PATH")


@dataclass(frozen=True)
class CatalogTarget:
    """Where the status update registers each completed manifest (from the Lambda's environment)."""

    database: str
    table: str
    location: str

    @classmethod
    def from_env(cls, env: Any) -> CatalogTarget | None:
        """`GLUE_DATABASE` (unset or empty: registration off), `GLUE_TABLE` (default `events`), `OUTPUT_PATH`
        (the Glue job's output root, `s3://bucket/prefix/`). A bad value raises `CatalogError` naming it."""
        database = str(env.get("GLUE_DATABASE") or "").strip()
        if not database:
            return None
        table = str(env.get("GLUE_TABLE") or "events").strip()
        location = str(env.get("OUTPUT_PATH") or "").strip()
        problems = []
        if athena_name(database) != database:
            problems.append(f"GLUE_DATABASE={database!r}: use lower-case letters, digits and '_'")
        if athena_name(table) != table:
            problems.append(f"GLUE_TABLE={table!r}: use lower-case letters, digits and '_'")
        if not location.startswith("s3://") or len(location) <= len("s3://"):
            problems.append(f"OUTPUT_PATH={location!r}: expected s3://bucket/prefix/")
        if problems:
            raise CatalogError("invalid catalog configuration: " + "; ".join(problems))
        return cls(database, table, location if location.endswith("/") else location + "/")

    def register(self, glue_client: Any, date_prefix: str, report: dict[str, Any]) -> RegistrationResult:
        return register_manifest_output(
            glue_client, self.database, self.table, self.location, date_prefix, report
        )
