"""Conversions: conform an array to a target type, reporting the rows whose value cannot be converted.

Values of a losing type are converted when that is lossless ("12.50" -> 12.5, an ISO date-time string -> a
timestamp); a value that cannot be represented becomes null and its row is reported, so that the record is
quarantined rather than silently changed. `normalise_table` is the parse-time step that gives every piece the
same timestamp type before the schemas are merged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from .constants import TS_TYPE
from .schema import family

TIMESTAMP_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
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


def strings_to_timestamps(array: pa.Array) -> pa.Array:
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
        # pyarrow-stubs: nulls() overloads each concrete type, none a plain DataType; pyarrow takes any.
        return pa.nulls(len(array), target), {}  # type: ignore[call-overload]
    source_family, target_family = family(source), family(target)
    bad: dict[int, str] = {}
    if source_family == "object" and target_family == "object":  # struct types, so StructArray
        struct_target = cast(pa.StructType, target)
        children = cast(pa.StructArray, array).flatten()
        names = {source.field(i).name: i for i in range(source.num_fields)}
        out_children = []
        for field in struct_target:
            if field.name in names:
                child, child_bad = conform(children[names[field.name]], field.type, f"{path}.{field.name}")
                for row, reason in child_bad.items():
                    bad.setdefault(row, reason)
            else:
                child = pa.nulls(len(array), field.type)
            out_children.append(child)
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(out_children, fields=list(struct_target), mask=mask), bad
    if source_family == "array" and target_family == "array":
        # list types (the JSON reader and this job build list, never large_list), so a ListArray
        list_array = cast(pa.ListArray, array)
        offsets = list_array.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        items = list_array.values.slice(first, last - first)
        rebased = pc.subtract(offsets, pa.scalar(first, offsets.type))
        new_values, value_bad = conform(items, cast(pa.ListType, target).value_type, f"{path}[]")
        if value_bad:
            starts = cast(list[int], rebased.to_pylist())  # list offsets are never null
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
    present = set(table.column_names)  # once: column_names is a new list per call (quadratic in the width)
    for field in schema:
        if field.name in present:
            column = table.column(field.name)
            # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
            array = column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0))
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
                return strings_to_timestamps(array)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return array
        return array
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


def normalise_table(table: pa.Table) -> pa.Table:
    arrays, fields = [], []
    for field in table.schema:
        column = table.column(field.name)
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        array = column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0))
        array = _normalise_types(array)
        arrays.append(array)
        fields.append(pa.field(field.name, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
