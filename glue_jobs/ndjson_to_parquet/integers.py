"""Exact integers at parse time: the double columns of a block whose raw text holds long integer literals.

pyarrow's JSON reader types a field holding an integer and a fraction (or an integer beyond int64) as double, so
an integer beyond 2^53 is rounded before the job sees it (1234567890123456789 -> 1.2345678901234568e18). A cheap
check decides whether a block needs the exact treatment: a double column holding a value of magnitude 2^53 or more
(Arrow compute over the double columns only) and an integer literal of 16+ digits (a byte scan; integers of 15
digits or fewer are below 2^53, exact as doubles). Other blocks cost nothing more. For such a block the lines are read again with the standard library (exact Python
ints), and each double column (at any level) holding an integer beyond 2^53 becomes (docs/glue-job.md):

- decimal(38,0) when all its values are integers (some beyond int64); an integer of more than 38 digits is
  reported (its record is quarantined `type_conflict`);
- double otherwise (fractions too): the records holding an integer beyond 2^53 are reported, as no double holds
  them exactly.
"""

from __future__ import annotations

import decimal
import json
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.contracts.lines import is_blank

from .conform import beyond_decimal_reason, inexact_reason
from .schema import ITEM, Path, display

EXACT_DOUBLE = 2**53  # every integer of at most this magnitude is exact as a double
INT64_MAX = 2**63 - 1
DECIMAL_DIGITS = 38
DECIMAL_TYPE = pa.decimal128(DECIMAL_DIGITS, 0)
_DIGITS_AND_SEPARATORS = bytes.maketrans(b"123456789,[", b"000000000::")
_LONG_LITERAL = b":" + b"0" * 16  # a separator then 16 digits: an integer part of 16+ digits


def _double_leaves(path: Path, data_type: pa.DataType) -> list[Path]:
    if pa.types.is_floating(data_type):
        return [path]
    if pa.types.is_struct(data_type):
        return [leaf for child in data_type for leaf in _double_leaves((*path, child.name), child.type)]
    if pa.types.is_list(data_type):
        return _double_leaves((*path, ITEM), data_type.value_type)
    return []


_FLOAT_IDS = frozenset(t.id for t in (pa.float16(), pa.float32(), pa.float64()))
_NESTED_IDS = frozenset(t.id for t in (pa.struct([]), pa.list_(pa.null()), pa.large_list(pa.null())))


def _float_arrays(array: pa.Array, out: list[pa.Array]) -> None:
    data_type = array.type
    if pa.types.is_floating(data_type):
        out.append(array)
    elif pa.types.is_struct(data_type):
        for child in cast(pa.StructArray, array).flatten():
            _float_arrays(child, out)
    elif pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        _float_arrays(cast(pa.ListArray, array).flatten(), out)


def float_values(table: pa.Table) -> list[pa.Array]:
    """Every floating-point value of the table (its double leaves at any level), as one array per type: one
    Arrow compute call then looks at all of them, however wide the table (a call per column costs per column)."""
    arrays: list[pa.Array] = []
    types = table.schema.types
    flat = [index for index, data_type in enumerate(types) if data_type.id in _FLOAT_IDS]
    for column in table.select(flat).columns:
        arrays.extend(column.chunks)
    for index, data_type in enumerate(types):
        if data_type.id in _NESTED_IDS and _double_leaves(("",), data_type):
            for chunk in table.column(index).chunks:
                _float_arrays(chunk, arrays)
    by_type: dict[pa.DataType, list[pa.Array]] = {}
    for array in arrays:
        by_type.setdefault(array.type, []).append(array)
    return [group[0] if len(group) == 1 else pa.concat_arrays(group) for group in by_type.values()]


def needs_exact_treatment(data: bytes, table: pa.Table, floats: list[pa.Array] | None = None) -> bool:
    """A double value beyond 2^53 in magnitude (Arrow compute over all the double leaves at once: `floats`, the
    table's float_values when the caller has them), and a 16+ digit integer literal (a byte scan: digits as `0`,
    separators as `:`, whitespace and `-` gone, then one `find`; a literal inside a string only costs the exact
    treatment)."""
    for values in float_values(table) if floats is None else floats:
        largest = pc.max(pc.abs(values)).as_py()
        if largest is not None and largest >= EXACT_DOUBLE:
            return data.translate(_DIGITS_AND_SEPARATORS, b" \t\r\n-").find(_LONG_LITERAL) >= 0
    return False


def _values(records: list[Any], path: Path) -> list[tuple[int, Any]]:
    """(row, value) of every element of the leaf at `path`, in the order of Arrow's flattened leaf array."""
    pairs: list[tuple[int, Any]] = [(row, record) for row, record in enumerate(records)]
    for name in path:
        if name is ITEM:
            pairs = [(row, item) for row, value in pairs if isinstance(value, list) for item in value]
        else:
            pairs = [(row, value.get(name) if isinstance(value, dict) else None) for row, value in pairs]
    return pairs


def _leaf(array: pa.Array, rest: Path) -> pa.Array:
    if not rest:
        return array
    if rest[0] is ITEM:
        return _leaf(_list_values(cast(pa.ListArray, array)), rest[1:])
    index = array.type.get_field_index(rest[0])
    return _leaf(cast(pa.StructArray, array).flatten()[index], rest[1:])


def _list_values(array: pa.ListArray) -> pa.Array:
    first, last = array.offsets[0].as_py(), array.offsets[-1].as_py()
    return array.values.slice(first, last - first)


def _replace(array: pa.Array, rest: Path, leaf: pa.Array) -> pa.Array:
    """`array` with the leaf at `rest` replaced (its type may change)."""
    if not rest:
        return leaf
    mask = array.is_null() if array.null_count else None
    if rest[0] is ITEM:
        list_array = cast(pa.ListArray, array)
        offsets = list_array.offsets
        rebased = pc.subtract(offsets, pa.scalar(offsets[0].as_py(), offsets.type))
        values = _replace(_list_values(list_array), rest[1:], leaf)
        return pa.ListArray.from_arrays(rebased, values, mask=mask)
    index = array.type.get_field_index(rest[0])
    children = cast(pa.StructArray, array).flatten()
    children[index] = _replace(children[index], rest[1:], leaf)
    fields = [pa.field(array.type.field(i).name, child.type) for i, child in enumerate(children)]
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _exact_leaf(pairs: list[tuple[int, Any]], shown: str, bad: dict[int, str]) -> pa.Array | None:
    """The leaf's new array (None: unchanged), reporting the rows whose integer no column type holds exactly."""
    values = [value for _, value in pairs]
    wide = [v for v in values if _is_integer(v) and abs(v) > EXACT_DOUBLE]
    if not wide:
        return None  # every integer exact as a double: the double column as read
    try:
        max(float(abs(v)) for v in wide)
    except OverflowError as exc:  # the line rule's strict parser refuses it (invalid_json): the slow path
        raise pa.ArrowInvalid(f"exact integers: {shown} holds an integer beyond a double's range") from exc
    if any(isinstance(v, float) for v in values):
        for row, value in pairs:
            if _is_integer(value) and abs(value) > EXACT_DOUBLE:
                bad.setdefault(row, inexact_reason(shown, value))
        return None  # those rows go; the others are exact in the double column
    if all(v is None or abs(v) <= INT64_MAX for v in values):
        return pa.array(values, pa.int64())
    out: list[decimal.Decimal | None] = []
    for row, value in pairs:
        if value is not None and len(str(abs(value))) > DECIMAL_DIGITS:
            bad.setdefault(row, beyond_decimal_reason(shown, value))
            value = None
        out.append(None if value is None else decimal.Decimal(value))
    return pa.array(out, DECIMAL_TYPE)


def exact_integers(
    data: bytes, table: pa.Table, floats: list[pa.Array] | None = None
) -> tuple[pa.Table, dict[int, str]]:
    """`table` (pyarrow's reading of `data`) with its long integers exact, and {row: reason} for the rows that
    must be quarantined (their values in the returned table are meaningless). Raises pa.ArrowInvalid when the
    standard library does not read the lines as pyarrow did (the caller then takes the slow path)."""
    if not needs_exact_treatment(data, table, floats):
        return table, {}
    try:
        records = [json.loads(line) for line in data.split(b"\n") if not is_blank(line)]
    except ValueError as exc:
        raise pa.ArrowInvalid(f"exact integers: {exc}") from exc
    if len(records) != table.num_rows:
        raise pa.ArrowInvalid("exact integers: the lines are not the table's rows")
    bad: dict[int, str] = {}
    for top in table.schema:
        for path in _double_leaves((top.name,), top.type):
            column = table.column(top.name).combine_chunks()
            pairs = _values(records, path)
            if len(pairs) != len(_leaf(column, path[1:])):
                raise pa.ArrowInvalid(f"exact integers: {display(path)} is not read alike")
            leaf = _exact_leaf(pairs, display(path), bad)
            if leaf is not None:
                index = table.schema.get_field_index(top.name)
                replaced = _replace(column, path[1:], leaf)
                table = table.set_column(index, pa.field(top.name, replaced.type), replaced)
    return table, bad
