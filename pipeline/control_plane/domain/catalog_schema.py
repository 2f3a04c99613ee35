"""The Glue Data Catalog's view of the output (pure): the job report's schema (a list of `{"name", "type"}` with
Arrow type strings as the Glue job (glue_jobs/) reports it, Spark simpleStrings, or Spark's `StructType.jsonValue()`
JSON) mapped to Hive/Glue column types under Athena's naming rules, and the merge of a new schema into the table's
columns (new columns appended, existing ones never retyped or dropped). The Glue calls are in
``adapters/catalog.py``.

Athena's rules (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html): names are lower
case, 1..255 bytes; in complex types only letters, digits and `_` are safe. Athena reads Parquet columns by name,
case-insensitively, so a field whose lower-cased name breaks these rules (or collides with another field's) cannot be
mapped: it is left out of the catalog and reported in `RegistrationResult.skipped_columns`, never renamed (a renamed
column would read back as NULL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.contracts.errors import PipelineError

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


class CatalogError(PipelineError):
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
