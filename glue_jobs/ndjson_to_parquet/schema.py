"""The batch schema: every piece's observed types merged into one schema, or the explicit --SCHEMA_PATH one.

The rule (docs/glue-job.md): null widens to any type, int to double, struct fields are unioned, list items
merged; for any other conflict the type carried by most values wins and the conflict is reported. Pieces are
typed independently by pyarrow in the Spark tasks, so the merge happens once, on the driver, over observations
(path, type, non-null count) rather than data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa

from .constants import LINE, TS_TYPE
from .errors import JobError
from .storage import Storage, normalise


def family(data_type: pa.DataType) -> str:
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
        for index, child in enumerate(cast(pa.StructArray, array).flatten()):
            _observe(child, f"{path}.{array.type.field(index).name}", out)
    elif pa.types.is_list(array.type):
        _observe(cast(pa.ListArray, array).flatten(), f"{path}[]", out)


def observe_table(table: pa.Table) -> list[tuple[str, pa.DataType, int]]:
    out: list[tuple[str, pa.DataType, int]] = []
    for field in table.schema:
        if field.name == LINE:
            continue
        column = table.column(field.name)
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        array = column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0))
        _observe(array, field.name, out)
    return out


def schema_paths(fields: Iterable[pa.Field]) -> Iterator[tuple[str, pa.DataType]]:
    """(path, type) of every node of these fields, parents before children (`a.b` for struct fields, `a[]` for
    list items): the paths `observe_table` records."""

    def walk(path: str, data_type: pa.DataType) -> Iterator[tuple[str, pa.DataType]]:
        yield path, data_type
        if pa.types.is_struct(data_type):
            for field in data_type:
                yield from walk(f"{path}.{field.name}", field.type)
        elif pa.types.is_list(data_type):
            yield from walk(f"{path}[]", data_type.value_type)

    for field in fields:
        yield from walk(field.name, field.type)


def observe_schema(schema: pa.Schema) -> list[tuple[str, pa.DataType, int]]:
    return [(path, data_type, 1) for path, data_type in schema_paths(f for f in schema if f.name != LINE)]


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
            weights[family(data_type)] = weights.get(family(data_type), 0) + count
        winner = next(iter(weights))
        if len(weights) > 1:
            winner = max(weights, key=lambda fam: (weights[fam], -list(weights).index(fam)))
            conflicts.append({"field": path, "values_by_type": weights, "resolved_as": winner})
        kept = [t for t, _ in observed if family(t) == winner]
        if winner == "object":
            names: list[str] = []
            for data_type in kept:  # family "object": struct types
                names.extend(f.name for f in cast(pa.StructType, data_type) if f.name not in names)
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
    for path, data_type in schema_paths(schema):
        weights: dict[str, int] = {}
        for observed, count in by_path.get(path, []):
            if not pa.types.is_null(observed) and family(observed) != family(data_type):
                weights[family(observed)] = weights.get(family(observed), 0) + count
        if weights:
            conflicts.append(
                {
                    "field": path,
                    "values_by_type": weights,
                    "resolved_as": family(data_type),
                    "rule": "explicit schema",
                }
            )


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


def load_schema(schema_path: str, storage: Storage | None = None) -> pa.Schema:
    """An explicit schema: Spark's StructType JSON (`df.schema.json()`)."""
    storage = storage if storage is not None else Storage.from_env()
    try:
        doc = json.loads(storage.read_bytes(normalise(schema_path)).decode("utf-8-sig"))
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
    simple: dict[str, pa.DataType] = {
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
