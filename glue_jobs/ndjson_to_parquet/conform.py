"""Conversions: conform an array to a target type, reporting the rows whose value cannot be converted.

Values of a losing type are converted when that is lossless ("12.50" -> 12.5, an ISO date-time string -> a
timestamp); a value that cannot be represented becomes null and its row is reported, so that the record is
quarantined rather than silently changed. Names are matched case-insensitively (schema.py): the spellings of a
name are coalesced into its one column, a record holding two of them in one object is reported as
`case_collision`, a record holding a reserved top-level name as `reserved_field`. `text_schema` is the parse-time
step that keeps strings as the text they were (pyarrow's JSON reader turns ISO strings into timestamps).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from .constants import TS_TYPE
from .schema import family, is_reserved, strings_to_timestamps

INTEGER_RE = re.compile(r"^\s*-?\d+\s*$")


def _describe(data_type: pa.DataType) -> str:
    return family(data_type)


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
            return strings_to_timestamps(array), []
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


@dataclass
class Conversion:
    """How one top-level column is conformed: against the table's contract (reasons `schema_contract`) or
    within the batch (`type_conflict`), and how many non-null values were converted to another type."""

    contract: bool = False
    converted: int = 0


@dataclass
class Conformed:
    table: pa.Table
    bad: dict[int, str]  # row -> reason
    converted: dict[str, int] = field(default_factory=dict)  # top-level column -> values converted


def _non_null_rows(array: pa.Array) -> list[int]:
    if array.null_count == len(array):
        return []
    return [i for i, valid in enumerate(array.is_valid().to_pylist()) if valid]


def conform(
    array: pa.Array, target: pa.DataType, path: str, conversion: Conversion | None = None
) -> tuple[pa.Array, dict[int, str]]:
    """`array` converted to `target`, and {row: reason} for rows whose value cannot be represented."""
    source = array.type
    if source == target:
        return array, {}
    if pa.types.is_null(source):
        # pyarrow-stubs: nulls() overloads each concrete type, none a plain DataType; pyarrow takes any.
        return pa.nulls(len(array), target), {}  # type: ignore[call-overload]
    conversion = conversion if conversion is not None else Conversion()
    source_family, target_family = family(source), family(target)
    if source_family in ("object", "array") and source_family == target_family:
        return _conform_nested(array, target, path, conversion)
    converted, bad = _conform_value(array, target, path, conversion.contract)
    conversion.converted += len(array) - array.null_count - len(bad)
    return converted, bad


def _conform_nested(
    array: pa.Array, target: pa.DataType, path: str, conversion: Conversion
) -> tuple[pa.Array, dict[int, str]]:
    source = array.type
    bad: dict[int, str] = {}
    if pa.types.is_struct(source):  # struct types, so StructArray
        struct_target = cast(pa.StructType, target)
        children = cast(pa.StructArray, array).flatten()
        names = [source.field(i).name for i in range(source.num_fields)]
        out_children, bad = _conform_fields(
            children, names, list(struct_target), len(array), path, False, conversion
        )
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(out_children, fields=list(struct_target), mask=mask), bad
    # list types (the JSON reader and this job build list, never large_list), so a ListArray
    list_array = cast(pa.ListArray, array)
    offsets = list_array.offsets
    first, last = offsets[0].as_py(), offsets[-1].as_py()
    items = list_array.values.slice(first, last - first)
    rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
    new_values, value_bad = conform(items, cast(pa.ListType, target).value_type, f"{path}[]", conversion)
    if value_bad:
        starts = cast(list[int], rebased.to_pylist())  # list offsets are never null
        for value_row, why in value_bad.items():
            bad.setdefault(bisect.bisect_right(starts, value_row) - 1, why)
    mask = array.is_null() if array.null_count else None
    return pa.ListArray.from_arrays(rebased, new_values, type=target, mask=mask), bad


def _conform_value(
    array: pa.Array, target: pa.DataType, path: str, contract: bool
) -> tuple[pa.Array, dict[int, str]]:
    """A scalar (or a value of another family than the target's) converted to `target`."""
    source = array.type
    source_family, target_family = family(source), family(target)
    bad: dict[int, str] = {}

    def _reason(path: str, source: pa.DataType, target: pa.DataType) -> str:
        return reason(path, source, target, contract)

    if target_family == "number" and source_family == "number":
        if pa.types.is_floating(target) and (
            pa.types.is_integer(source) or (pa.types.is_decimal(source) and source.scale == 0)
        ):
            return _integers_to_double(array, target, path, contract)
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
        # pyarrow-stubs type Array.cast() as a plain Array: to a timestamp type it is a TimestampArray.
        return pc.strftime(cast(pa.TimestampArray, array.cast(TS_TYPE)), format="%Y-%m-%dT%H:%M:%SZ"), {}
    if target_family == "timestamp" and source_family == "timestamp":
        return array.cast(target), {}
    if source_family == "string" and target_family in ("number", "boolean", "timestamp", "date"):
        converted, bad_rows = _cast_strings(array, target)
        return converted, {row: _reason(path, source, target) for row in bad_rows}
    for row in _non_null_rows(array):
        bad[row] = _reason(path, source, target)
    return pa.nulls(len(array), target), bad  # type: ignore[call-overload]  # stubs: no DataType overload


def _integers_to_double(
    array: pa.Array, target: pa.DataType, path: str, contract: bool = False
) -> tuple[pa.Array, dict[int, str]]:
    """Integers (int64 or decimal(38,0)) -> double; an integer beyond 2^53, which no double holds exactly, is
    reported rather than rounded."""
    if pa.types.is_integer(array.type):
        try:
            return pc.cast(array, target), {}  # Arrow refuses an integer that a double does not hold exactly
        except pa.ArrowInvalid:
            pass
    values: list[float | None] = []
    bad: dict[int, str] = {}
    for index, value in enumerate(array.to_pylist()):
        if value is not None and abs(int(value)) > 2**53:
            bad[index] = (
                reason(path, array.type, target, True) if contract else inexact_reason(path, int(value))
            )
            value = None
        values.append(None if value is None else float(value))
    return pa.array(values, type=target), bad


def inexact_reason(path: str, value: int) -> str:
    return (
        f"type_conflict: field '{path}' holds integers and fractions; integer {value} is not exact as a double "
        "(beyond 2^53)"
    )


def beyond_decimal_reason(path: str, value: int) -> str:
    return (
        f"type_conflict: field '{path}': integer {value} has more than 38 digits, beyond decimal(38,0), the "
        "widest exact integer type Spark, DuckDB and Athena read"
    )


def reason(path: str, source: pa.DataType, target: pa.DataType, contract: bool = False) -> str:
    """Why a value is quarantined: against the table's contract (`schema_contract`) or within the batch."""
    if contract:
        return (
            f"schema_contract: field '{path}' holds a {_describe(source)} value that cannot be converted to the "
            f"table type {target}"
        )
    return (
        f"type_conflict: field '{path}' holds a {_describe(source)} value that cannot be converted to the "
        f"batch type {target}"
    )


def _targets(names: list[str], fields: list[pa.Field]) -> list[str | None]:
    """The target field of each source name: the same name, else the one equal ignoring case, else None."""
    exact = {f.name for f in fields}
    by_lower: dict[str, list[str]] = {}
    for target in fields:
        by_lower.setdefault(target.name.lower(), []).append(target.name)
    out: list[str | None] = []
    for name in names:
        candidates = by_lower.get(name.lower(), [])
        out.append(name if name in exact else (candidates[0] if len(candidates) == 1 else None))
    return out


def _conform_fields(
    arrays: list[pa.Array],
    names: list[str],
    fields: list[pa.Field],
    length: int,
    path: str,
    top: bool,
    conversion: Conversion | None = None,
    contract_columns: frozenset[str] = frozenset(),
    converted: dict[str, int] | None = None,
) -> tuple[list[pa.Array], dict[int, str]]:
    """The children (or columns) `arrays` named `names` conformed to `fields`: spellings equal ignoring case are
    coalesced into their field, and the rows holding two of them (`case_collision`) or a reserved top-level name
    (`reserved_field`) are reported first."""
    bad: dict[int, str] = {}
    sources: dict[str, list[int]] = {}
    for index, target in enumerate(_targets(names, fields)):
        if target is not None:
            sources.setdefault(target, []).append(index)
        elif top and is_reserved(names[index]):
            reason = (
                f"reserved_field: the top-level key '{names[index]}' equals, ignoring case, "
                f"'{names[index].lower()}', the partition or a metadata column every reader sees instead; "
                "rename it upstream"
            )
            for row in _non_null_rows(arrays[index]):
                bad.setdefault(row, reason)
    where = f"the object '{path}'" if path else "the record"
    for indexes in sources.values():
        if len(indexes) < 2:
            continue
        present = [pc.cast(arrays[i].is_valid(), pa.int8()) for i in indexes]
        total = present[0]
        for flags in present[1:]:
            total = pc.add(total, flags)
        for row, count in enumerate(cast(list[int], total.to_pylist())):  # is_valid() is never null
            if count > 1:
                keys = [names[i] for i, flags in zip(indexes, present, strict=True) if flags[row].as_py()]
                listed = ", ".join(f"'{key}'" for key in keys)
                bad.setdefault(row, f"case_collision: {where} has keys {listed}, equal ignoring case")
    out = []
    scalar_sources: dict[
        str, list[pa.Array]
    ] = {}  # top-level scalar columns converted: counted exactly below
    conversions: dict[str, Conversion] = {}
    for target_field in fields:
        parts = []
        column = conversion or Conversion(contract=target_field.name in contract_columns)
        conversions[target_field.name] = column
        for index in sources.get(target_field.name, []):
            child_path = f"{path}.{target_field.name}" if path else target_field.name
            child, child_bad = conform(arrays[index], target_field.type, child_path, column)
            for row, why in child_bad.items():
                bad.setdefault(row, why)
            parts.append(child)
            source_type = arrays[index].type
            if (
                top
                and source_type != target_field.type
                and family(source_type) not in ("object", "array", "null")
            ):
                scalar_sources.setdefault(target_field.name, []).append(arrays[index])
        if not parts:
            out.append(pa.nulls(length, target_field.type))
        else:
            out.append(parts[0] if len(parts) == 1 else pc.coalesce(*parts))
    if converted is not None:
        for name, column in conversions.items():
            if not column.contract:
                continue  # within the batch: not a conversion to the table's contract
            count = column.converted
            if name in scalar_sources:  # exact: the converted values of rows that are kept
                count = sum(
                    len(array) - array.null_count - sum(1 for row in bad if array[row].is_valid)
                    for array in scalar_sources[name]
                )
            if count:
                converted[name] = count
    return out, bad


def conform_table(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, dict[int, str]]:
    conformed = conform_to_contract(table, schema)
    return conformed.table, conformed.bad


def conform_to_contract(
    table: pa.Table, schema: pa.Schema, contract_columns: frozenset[str] = frozenset()
) -> Conformed:
    """The table in `schema`; values of the `contract_columns` that cannot be converted are `schema_contract`
    reasons (the table's contract), others `type_conflict` (the batch's own schema)."""
    if table.schema.remove_metadata() == schema:
        return Conformed(table, {})
    arrays = []
    names = table.column_names  # once: column_names is a new list per call (quadratic in the width otherwise)
    for column in table.columns:
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        arrays.append(column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0)))
    converted: dict[str, int] = {}
    fields = {target.name: target for target in schema}
    if len(set(names)) == len(names) and all(name in fields for name in names):
        return _conform_exact_names(
            table.num_rows, dict(zip(names, arrays, strict=True)), schema, contract_columns
        )
    columns, bad = _conform_fields(
        arrays, names, list(schema), table.num_rows, "", True, None, contract_columns, converted
    )
    return Conformed(pa.Table.from_arrays(columns, schema=schema), bad, converted)


def _conform_exact_names(
    rows: int, arrays: dict[str, pa.Array], schema: pa.Schema, contract_columns: frozenset[str]
) -> Conformed:
    """conform_to_contract when every column of the piece is a field of `schema` spelled exactly so (the common
    case: a piece lacking some of the batch's columns): no spelling to coalesce, no collision, no reserved name.
    Columns of the target type are kept as they are and missing ones are nulls; only the columns of another
    type go through `_conform_fields` (the same reasons and counts as conforming the whole piece there: each of
    them has exactly one source, and the others report nothing). A wide piece costs no Python call per column
    that needs no conversion."""
    mismatched = [
        target for target in schema if target.name in arrays and arrays[target.name].type != target.type
    ]
    converted: dict[str, int] = {}
    columns: dict[str, pa.Array] = {}
    bad: dict[int, str] = {}
    if mismatched:  # in the schema's order, as _conform_fields reports them (the first reason of a row wins)
        names = [target.name for target in mismatched]
        done, bad = _conform_fields(
            [arrays[name] for name in names],
            names,
            mismatched,
            rows,
            "",
            True,
            None,
            contract_columns,
            converted,
        )
        columns = dict(zip(names, done, strict=True))
    out = []
    for target in schema:
        array = columns.get(target.name, arrays.get(target.name))
        out.append(array if array is not None else pa.nulls(rows, target.type))
    return Conformed(pa.Table.from_arrays(out, schema=schema), bad, converted)


def text_schema(schema: pa.Schema) -> pa.Schema | None:
    """`schema` with its timestamp nodes as strings, or None when it has none: pyarrow's JSON reader infers
    timestamps from ISO strings, and reading the block again with this schema keeps their text."""

    def strings(data_type: pa.DataType) -> pa.DataType:
        if pa.types.is_timestamp(data_type):
            return pa.string()
        if pa.types.is_struct(data_type):
            return pa.struct([pa.field(f.name, strings(f.type)) for f in data_type])
        if pa.types.is_list(data_type):
            return pa.list_(strings(data_type.value_type))
        return data_type

    if not schema_has_timestamps(schema):
        return None
    changed = pa.schema([pa.field(f.name, strings(f.type)) for f in schema])
    return None if changed == schema else changed


def _normalise_types(array: pa.Array) -> pa.Array:
    """Timestamps -> timestamp[us, UTC]; strings stay the text they were (schema.py decides on timestamps)."""
    data_type = array.type
    if pa.types.is_timestamp(data_type):
        if data_type == TS_TYPE:
            return array
        return array.cast(pa.timestamp("us", tz=data_type.tz)).cast(TS_TYPE)
    if pa.types.is_struct(data_type):
        children = cast(pa.StructArray, array).flatten()
        new_children = [_normalise_types(child) for child in children]
        if all(a is b for a, b in zip(children, new_children, strict=True)):
            return array
        fields = [pa.field(data_type.field(i).name, child.type) for i, child in enumerate(new_children)]
        return pa.StructArray.from_arrays(
            new_children, fields=fields, mask=array.is_null() if array.null_count else None
        )
    if pa.types.is_list(data_type):
        list_array = cast(pa.ListArray, array)
        offsets = list_array.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        values = list_array.values.slice(first, last - first)
        new_values = _normalise_types(values)
        if new_values is values:
            return array
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
        return pa.ListArray.from_arrays(
            rebased, new_values, mask=array.is_null() if array.null_count else None
        )
    return array


def _has_timestamps(data_type: pa.DataType) -> bool:
    if pa.types.is_timestamp(data_type):
        return True
    if pa.types.is_struct(data_type):
        return any(_has_timestamps(child.type) for child in data_type)
    if pa.types.is_list(data_type):
        return _has_timestamps(data_type.value_type)
    return False


def schema_has_timestamps(schema: pa.Schema) -> bool:
    """Whether a node of the schema is a timestamp. The schema's text (one C++ call) answers for most schemas:
    every timestamp type prints as `timestamp[...]`, so without that text there is none; with it (or a field
    named so) the types are walked."""
    text = schema.to_string(show_field_metadata=False, show_schema_metadata=False)
    return "timestamp[" in text and any(_has_timestamps(column_field.type) for column_field in schema)


def normalise_table(table: pa.Table) -> pa.Table:
    """Every column in one chunk, its timestamps as timestamp[us, UTC]."""
    if not schema_has_timestamps(table.schema):
        return table.combine_chunks()  # nothing to convert: one C++ call, not a Python loop over the columns
    arrays, fields = [], []
    for column_field in table.schema:
        column = table.column(column_field.name)
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        array = column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0))
        array = _normalise_types(array)
        arrays.append(array)
        fields.append(pa.field(column_field.name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
