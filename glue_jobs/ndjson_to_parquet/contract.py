"""The schema contract of a table: how a batch's schema is reconciled with the table's, by Iceberg's rules.

Pure (pyarrow only). The contract is the table's data schema; a batch never changes a contract type except by
an Iceberg promotion (int32 -> int64, float32 -> float64, decimal(P,S) -> decimal(P',S) with P' > P). A batch
may add top-level columns and struct fields (also inside list items): they are appended, in batch order. Any
other difference keeps the contract type; conform then converts the batch's values when lossless and
quarantines the records whose values are not (`schema_contract`). Names match case-insensitively; the
contract's spelling wins. `to_json` / `from_json` read and write Spark's StructType JSON (the --SCHEMA_PATH
format), `diff` lists what a batch would change for `pipeline schema diff`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .constants import TS_TYPE
from .schema import family, schema_from_doc


@dataclass(frozen=True)
class Evolution:
    """The target data schema of a run and what it changes in the contract."""

    schema: pa.Schema  # contract columns (contract order, contract types, promoted), then new ones
    added: list[str] = field(default_factory=list)  # display paths of new columns / struct fields
    promoted: list[dict[str, str]] = field(default_factory=list)  # {"field", "from", "to"}
    contract_columns: frozenset[str] = frozenset()  # top-level names (as spelled in the contract)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.promoted)


def is_promotion(table_type: pa.DataType, batch_type: pa.DataType) -> bool:
    """Whether Iceberg allows widening the table type to the batch type."""
    if pa.types.is_int32(table_type) and pa.types.is_int64(batch_type):
        return True
    if pa.types.is_float32(table_type) and pa.types.is_float64(batch_type):
        return True
    if pa.types.is_decimal(table_type) and pa.types.is_decimal(batch_type):
        return bool(table_type.scale == batch_type.scale and batch_type.precision > table_type.precision)
    return False


def _fill_nulls(data_type: pa.DataType) -> pa.DataType:
    """A new column's type: null nodes (values that were null everywhere) become strings."""
    if pa.types.is_null(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct([pa.field(f.name, _fill_nulls(f.type)) for f in data_type])
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.list_(_fill_nulls(data_type.value_type))
    return data_type


class _Walk:
    def __init__(self, promotions: bool = True) -> None:
        self.promotions = promotions
        self.added: list[str] = []
        self.promoted: list[dict[str, str]] = []
        self.changes: list[dict[str, Any]] = []

    def fields(self, table: list[pa.Field], batch: list[pa.Field], prefix: str) -> list[pa.Field]:
        """The table's fields merged with the batch's: table order and spelling, then the new ones."""
        by_lower: dict[str, pa.Field] = {}
        for batch_field in batch:
            by_lower.setdefault(batch_field.name.lower(), batch_field)
        known = {f.name.lower() for f in table}
        out = []
        for table_field in table:
            shown = f"{prefix}.{table_field.name}" if prefix else table_field.name
            other = by_lower.get(table_field.name.lower())
            data_type = table_field.type if other is None else self.node(table_field.type, other.type, shown)
            out.append(pa.field(table_field.name, data_type))
        for batch_field in batch:
            if batch_field.name.lower() in known:
                continue
            known.add(batch_field.name.lower())
            shown = f"{prefix}.{batch_field.name}" if prefix else batch_field.name
            new_type = _fill_nulls(batch_field.type)
            self.added.append(shown)
            self.changes.append(
                {"field": shown, "change": "added", "table_type": None, "batch_type": str(new_type)}
            )
            out.append(pa.field(batch_field.name, new_type))
        return out

    def node(self, table_type: pa.DataType, batch_type: pa.DataType, shown: str) -> pa.DataType:
        if pa.types.is_null(batch_type) or table_type == batch_type:
            return table_type
        if pa.types.is_struct(table_type) and pa.types.is_struct(batch_type):
            return pa.struct(self.fields(list(table_type), list(batch_type), shown))
        if pa.types.is_list(table_type) and (
            pa.types.is_list(batch_type) or pa.types.is_large_list(batch_type)
        ):
            return pa.list_(self.node(table_type.value_type, batch_type.value_type, f"{shown}[]"))
        if self.promotions and is_promotion(table_type, batch_type):
            self.promoted.append({"field": shown, "from": str(table_type), "to": str(batch_type)})
            self.changes.append(
                {
                    "field": shown,
                    "change": "promoted",
                    "table_type": str(table_type),
                    "batch_type": str(batch_type),
                }
            )
            return batch_type
        if not _same_family_timestamps(table_type, batch_type):
            self.changes.append(
                {
                    "field": shown,
                    "change": "conformed",
                    "table_type": str(table_type),
                    "batch_type": str(batch_type),
                    "rule": f"{family(batch_type)} values are converted to {table_type} when lossless, "
                    "else their records are quarantined (schema_contract)",
                }
            )
        return table_type


def _same_family_timestamps(table_type: pa.DataType, batch_type: pa.DataType) -> bool:
    return pa.types.is_timestamp(table_type) and pa.types.is_timestamp(batch_type)


def evolve(contract: pa.Schema | None, batch: pa.Schema, promotions: bool = True) -> Evolution:
    """The contract evolved by the batch: promotions and new columns / struct fields (no contract: the batch's
    schema, all-null columns as strings, is the contract). `promotions=False` keeps every contract type (a
    table whose readers cannot widen a file's physical type: plain Parquet read by Spark 3.5)."""
    walk = _Walk(promotions)
    if contract is None:
        schema = pa.schema([pa.field(f.name, _fill_nulls(f.type)) for f in batch])
        return Evolution(schema=schema, added=[f.name for f in batch])
    fields = walk.fields(list(contract), list(batch), "")
    return Evolution(
        schema=pa.schema(fields),
        added=walk.added,
        promoted=walk.promoted,
        contract_columns=frozenset(contract.names),
    )


def diff(contract: pa.Schema | None, batch: pa.Schema, promotions: bool = True) -> list[dict[str, Any]]:
    """What the batch would change, one entry per field: {"field", "change": "added" | "promoted" |
    "conformed", "table_type", "batch_type"} ("conformed": the contract type stays, values are converted when
    lossless, else quarantined; "rule" says so)."""
    walk = _Walk(promotions)
    walk.fields(list(contract) if contract is not None else [], list(batch), "")
    return walk.changes


# ------------------------------------------------------------------------------------------ Spark StructType JSON

_SPARK_NAMES: dict[pa.DataType, str] = {
    pa.string(): "string",
    pa.int64(): "long",
    pa.int32(): "integer",
    pa.int16(): "short",
    pa.int8(): "byte",
    pa.float64(): "double",
    pa.float32(): "float",
    pa.bool_(): "boolean",
    TS_TYPE: "timestamp",
    pa.date32(): "date",
}


def _spark_type(data_type: pa.DataType) -> Any:
    if data_type in _SPARK_NAMES:
        return _SPARK_NAMES[data_type]
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    if pa.types.is_struct(data_type):
        return {"type": "struct", "fields": [_spark_field(f) for f in data_type]}
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return {"type": "array", "elementType": _spark_type(data_type.value_type), "containsNull": True}
    if pa.types.is_null(data_type):
        return "string"
    raise ValueError(f"type {data_type} has no Spark StructType JSON name")


def _spark_field(column: pa.Field) -> dict[str, Any]:
    return {"name": column.name, "type": _spark_type(column.type), "nullable": True, "metadata": {}}


def to_json(schema: pa.Schema) -> dict[str, Any]:
    """The schema as Spark's StructType JSON (`df.schema.jsonValue()`), the --SCHEMA_PATH format."""
    return {"type": "struct", "fields": [_spark_field(f) for f in schema]}


def from_json(doc: Any) -> pa.Schema:
    """A Spark StructType JSON document as an Arrow schema (ValueError when it is not one)."""
    return schema_from_doc(doc)
