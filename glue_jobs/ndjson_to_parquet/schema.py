"""The batch schema: every piece's observed types merged into one schema, or the explicit --SCHEMA_PATH one.

The rule (docs/glue-job.md): null widens to any type, int to double (decimal(38,0) for integers beyond int64;
integers no double holds exactly are reported), struct fields are unioned, list items merged; for any other conflict the type carried by most values wins and the conflict is reported. Pieces are
typed independently by pyarrow in the Spark tasks, so the merge happens once, on the driver, over observations
(path, type, non-null count) rather than data. A path is a tuple of names (ITEM for a list's items), never a
dotted string: a top-level key "p.q" and a nested p -> q are different fields.

Names are matched case-insensitively at every level for the batch (Spark 3.5 cannot read a file with two columns
equal ignoring case): the spellings of one name share one column spelled as the most values spell it (ties: the
smallest in code-point order), reported as `case_variants`. Top-level names equal, ignoring case, to `dt` or a
metadata column are left out of the schema (conform quarantines the records holding them). A string field is a
timestamp only when every one of its non-null values is an ISO date-time: pieces keep the original text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from .constants import LINE, RESERVED_NAMES, TS_TYPE
from .errors import JobError
from .storage import Storage, normalise

ITEM = None  # the path element of a list's items
Path = tuple[str | None, ...]
Observation = tuple[Path, pa.DataType, int]  # (field path, type, non-null values)

# An ISO-8601 date-time a timestamp[us] holds exactly: date, time (seconds and up to 6 fraction digits optional),
# optional zone (Z or an offset). A date alone is not a date-time.
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"


def display(path: Path) -> str:
    """A path as the report shows it: names joined by '.', `[]` for list items."""
    text = ""
    for name in path:
        text = f"{text}[]" if name is ITEM else (f"{text}.{name}" if text else name)
    return text


def is_reserved(name: str) -> bool:
    """A top-level name equal, ignoring case, to the partition column or a metadata column."""
    return name.lower() in RESERVED_NAMES


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


# The observed type of an int64 array holding an integer beyond 2^53 (no double holds it exactly): the piece is
# int64; the sentinel only tells the resolution that a merge with fractions would quarantine records.
WIDE_INT64 = pa.decimal128(19, 0)
_EXACT_DOUBLE = 2**53


def _number_kind(data_type: pa.DataType) -> str:
    if data_type == WIDE_INT64:
        return "integer beyond 2^53"
    if pa.types.is_decimal(data_type):  # decimal(38,0): integers beyond int64 (integers.py)
        return "integer beyond int64"
    return "integer" if pa.types.is_integer(data_type) else "float"


def _merge_numbers(
    observed: list[tuple[pa.DataType, int]], shown: str, conflicts: list[dict[str, Any]]
) -> pa.DataType:
    """integer -> int64; integers and fractions -> double; integers beyond int64 -> decimal(38,0). A merge
    that needs an integer no double holds exactly (records quarantined) or a decimal is reported."""
    kinds: dict[str, int] = {}
    for data_type, count in observed:
        kinds[_number_kind(data_type)] = kinds.get(_number_kind(data_type), 0) + count
    wide = "integer beyond 2^53" in kinds or "integer beyond int64" in kinds
    if "float" in kinds:
        result: pa.DataType = pa.float64()
    elif "integer beyond int64" in kinds:
        result = pa.decimal128(38, 0)
    else:
        types = {t for t, _ in observed}
        return types.pop() if len(types) == 1 and WIDE_INT64 not in types else pa.int64()
    if wide:
        conflicts.append({"field": shown, "values_by_type": kinds, "resolved_as": str(result)})
    return result


def _wide_integers(array: pa.Array | pa.ChunkedArray) -> bool:
    """An int64 array (or several, chunked together) holding an integer beyond 2^53."""
    if not pa.types.is_int64(array.type) or array.null_count == len(array):
        return False
    bounds = pc.min_max(array)
    return bool(bounds["min"].as_py() < -_EXACT_DOUBLE or bounds["max"].as_py() > _EXACT_DOUBLE)


def strings_to_timestamps(array: pa.Array) -> pa.Array:
    """ISO date-time strings -> timestamp[us, UTC] (no offset: taken as UTC); raises ArrowInvalid otherwise."""
    try:
        return pc.cast(array, TS_TYPE)
    except pa.ArrowInvalid:
        pass
    try:
        naive = pc.cast(array, pa.timestamp("us"))  # no zone offset: the value is taken as UTC
        return naive.cast(TS_TYPE)
    except pa.ArrowInvalid:
        pass
    values: list[dt.datetime | None] = []  # offsets and naive values mixed: one by one
    for text in array.to_pylist():
        if text is None:
            values.append(None)
            continue
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise pa.ArrowInvalid(f"not an ISO date-time: {text!r}") from exc
        values.append(moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC))
    return pa.array(values, TS_TYPE)


def all_iso_datetimes(array: pa.Array) -> bool:
    """Whether every non-null value of a string array is an ISO date-time (and at least one is)."""
    values = pc.drop_null(array)
    if len(values) == 0 or not re.match(ISO_DATETIME, values[0].as_py()):  # most string columns stop here
        return False
    if not pc.all(pc.match_substring_regex(values, ISO_DATETIME)).as_py():
        return False
    try:
        strings_to_timestamps(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def first_valid_index(array: pa.Array) -> int | None:
    """The index of the first non-null value of `array` (None when every value is null), read from its
    validity bitmap: no compute call and no copy of the values (observe_table runs it once per string column)."""
    if array.null_count == len(array):
        return None
    if array.null_count == 0:
        return 0
    bitmap = array.buffers()[0]
    assert bitmap is not None  # some values are null: the array has a validity bitmap
    start = array.offset
    raw = memoryview(bitmap)[start // 8 : (start + len(array) + 7) // 8]
    shift = start % 8
    first = raw[0] >> shift
    if first:
        return (first & -first).bit_length() - 1
    rest = bytes(raw[1:])
    skipped = len(rest) - len(rest.lstrip(b"\0"))  # a valid value exists, so a set bit lies in range
    byte = rest[skipped]
    return 8 - shift + 8 * skipped + (byte & -byte).bit_length() - 1


def _might_be_datetimes(array: pa.Array) -> bool:
    """Whether the first non-null value of a string array is an ISO date-time (all_iso_datetimes' first test,
    without its copy of the non-null values): most string columns stop here."""
    index = first_valid_index(array)
    return index is not None and re.match(ISO_DATETIME, array[index].as_py()) is not None


def _nodes(array: pa.Array, path: Path, out: list[tuple[Path, pa.Array]]) -> None:
    """Every node of this column, parents before children (the order of schema_paths)."""
    out.append((path, array))
    if pa.types.is_struct(array.type):
        for index, child in enumerate(cast(pa.StructArray, array).flatten()):
            _nodes(child, (*path, array.type.field(index).name), out)
    elif pa.types.is_list(array.type):
        _nodes(cast(pa.ListArray, array).flatten(), (*path, ITEM), out)


def observe_table(table: pa.Table) -> list[Observation]:
    """(path, type, non-null count) of every node of the table's columns; strings that are all ISO date-times
    are observed as timestamps (the piece keeps their text), int64 arrays holding an integer beyond 2^53 as
    WIDE_INT64. One pass over the nodes, and one min/max over all int64 nodes together: a wide piece's columns
    cost no compute call each in the common case (no ISO-looking string, no integer beyond 2^53)."""
    nodes: list[tuple[Path, pa.Array]] = []
    for column_field, column in zip(table.schema, table.columns, strict=True):
        if column_field.name == LINE:
            continue
        # pyarrow-stubs type ChunkedArray.chunk() as a ChunkedArray; pyarrow returns the chunk, an Array.
        array = column.combine_chunks() if column.num_chunks != 1 else cast(pa.Array, column.chunk(0))
        _nodes(array, (column_field.name,), nodes)
    out: list[Observation] = []
    integers: list[int] = []  # indexes of the int64 nodes with a value
    for path, array in nodes:
        data_type = array.type
        values = len(array) - array.null_count
        if pa.types.is_string(data_type) and _might_be_datetimes(array) and all_iso_datetimes(array):
            data_type = TS_TYPE
        elif values and pa.types.is_int64(data_type):
            integers.append(len(out))
        out.append((path, data_type, values))
    if integers and _wide_integers(pa.chunked_array([nodes[i][1] for i in integers], pa.int64())):
        for i in integers:  # some node holds an integer beyond 2^53: which ones
            path, array = nodes[i]
            if _wide_integers(array):
                out[i] = (path, WIDE_INT64, out[i][2])
    return out


def schema_paths(fields: Iterable[pa.Field]) -> Iterator[tuple[Path, pa.DataType]]:
    """(path, type) of every node of these fields, parents before children: the paths `observe_table`
    records."""

    def walk(path: Path, data_type: pa.DataType) -> Iterator[tuple[Path, pa.DataType]]:
        yield path, data_type
        if pa.types.is_struct(data_type):
            for child in data_type:
                yield from walk((*path, child.name), child.type)
        elif pa.types.is_list(data_type):
            yield from walk((*path, ITEM), data_type.value_type)

    for top in fields:
        yield from walk((top.name,), top.type)


def observe_schema(schema: pa.Schema) -> list[Observation]:
    return [(path, data_type, 1) for path, data_type in schema_paths(f for f in schema if f.name != LINE)]


@dataclass
class Resolution:
    schema: pa.Schema
    conflicts: list[dict[str, Any]]
    ignored_fields: list[str]
    case_variants: dict[str, list[str]] = field(default_factory=dict)  # column -> the spellings merged


def _exact(name: str) -> str:
    return name


def _lower(name: str) -> str:
    return name.lower()


def resolve_schema(
    observations: list[Observation],
    top_level: list[str],
    explicit: pa.Schema | None,
    null_as_string: bool = True,
) -> Resolution:
    """Merge every piece's types into the batch schema (see the module docstring for the rule).

    `null_as_string=False` merges the pieces of one block (parse): names are then matched exactly, nothing is
    reserved and ISO strings stay strings, so that the merged piece holds every value as parsed."""
    batch = null_as_string
    fold: Callable[[str], str] = _lower if batch else _exact

    def key(path: Path) -> Path:
        return tuple(ITEM if name is ITEM else fold(name) for name in path)

    by_path: dict[Path, list[tuple[pa.DataType, int]]] = {}
    spellings: dict[Path, dict[str, int]] = {}  # folded path -> {spelling of its last name: values}
    for path, data_type, count in observations:
        folded = key(path)
        by_path.setdefault(folded, []).append((data_type, count))
        last = path[-1]
        if last is not ITEM:
            counts = spellings.setdefault(folded, {})
            counts[last] = counts.get(last, 0) + count
    for name in top_level:  # a column seen only in `top_level` still has its spelling
        spellings.setdefault((fold(name),), {}).setdefault(name, 0)
    conflicts: list[dict[str, Any]] = []
    variants: dict[str, list[str]] = {}

    def spell(folded: Path, shown: str) -> str:
        counts = spellings[folded]
        chosen = min(counts, key=lambda name: (-counts[name], name))
        if len(counts) > 1:
            variants[f"{shown}.{chosen}" if shown else chosen] = sorted(counts)
        return chosen

    def build(path: Path, shown: str) -> pa.DataType:
        typed = [(t, n) for t, n in by_path.get(path, []) if not pa.types.is_null(t)]
        # Types seen only on null values (e.g. a column of nulls conformed earlier) do not vote.
        observed = [(t, n) for t, n in typed if n > 0] or typed[:1]
        if not observed:
            return pa.null()
        weights: dict[str, int] = {}
        for data_type, count in observed:
            weights[family(data_type)] = weights.get(family(data_type), 0) + count
        if list(weights) == ["timestamp"]:  # every value an ISO date-time (or a timestamp)
            return TS_TYPE if batch else pa.string()
        if "timestamp" in weights:  # ISO strings among other strings are strings, kept as they came
            stamps = weights.pop("timestamp")
            weights["string"] = weights.get("string", 0) + stamps
            observed = [(pa.string() if family(t) == "timestamp" else t, n) for t, n in observed]
        winner = next(iter(weights))
        if len(weights) > 1:
            winner = max(weights, key=lambda fam: (weights[fam], -list(weights).index(fam)))
            conflicts.append({"field": shown, "values_by_type": weights, "resolved_as": winner})
        kept = [t for t, _ in observed if family(t) == winner]
        if winner == "object":
            names: dict[str, None] = {}  # in order of first appearance (a dict: wide structs stay linear)
            for data_type in kept:  # family "object": struct types
                names.update(dict.fromkeys(fold(f.name) for f in cast(pa.StructType, data_type)))
            children = []
            for name in names:
                spelled = spell((*path, name), shown)
                children.append(pa.field(spelled, build((*path, name), f"{shown}.{spelled}")))
            return pa.struct(children)
        if winner == "array":
            return pa.list_(build((*path, ITEM), f"{shown}[]"))
        if winner == "number":
            return _merge_numbers([(t, n) for t, n in observed if family(t) == "number"], shown, conflicts)
        return kept[0]

    if explicit is not None:
        known = {name.lower() for name in explicit.names}
        ignored = [name for name in top_level if name.lower() not in known]
        _collect_explicit_conflicts(explicit, by_path, conflicts)
        return Resolution(schema=explicit, conflicts=conflicts, ignored_fields=ignored)
    convert = _null_to_string if null_as_string else (lambda data_type: data_type)
    tops: dict[str, None] = {}  # in order of first appearance (a dict, not a list membership test per name)
    for name in top_level:
        if not (batch and is_reserved(name)):
            tops.setdefault(fold(name))
    fields = []
    for name in tops:
        spelled = spell((name,), "")
        fields.append(pa.field(spelled, convert(build((name,), spelled))))
    return Resolution(
        schema=pa.schema(fields), conflicts=conflicts, ignored_fields=[], case_variants=variants
    )


def _collect_explicit_conflicts(
    schema: pa.Schema, by_path: dict[Path, list[tuple[pa.DataType, int]]], conflicts: list[dict[str, Any]]
) -> None:
    for path, data_type in schema_paths(schema):
        weights: dict[str, int] = {}
        folded = tuple(ITEM if name is ITEM else name.lower() for name in path)
        for observed, count in by_path.get(folded, []):
            observed_family = family(observed)
            if observed_family == "timestamp" and family(data_type) == "string":
                continue  # ISO strings into a string column: kept as they came
            if not pa.types.is_null(observed) and observed_family != family(data_type):
                weights[observed_family] = weights.get(observed_family, 0) + count
        if weights:
            conflicts.append(
                {
                    "field": display(path),
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
        return schema_from_doc(doc)
    except ValueError as exc:
        raise JobError("InvalidSchema", f"--SCHEMA_PATH {schema_path}: {exc}") from exc


def schema_from_doc(doc: Any) -> pa.Schema:
    """A Spark StructType JSON document (`df.schema.json()`) as an Arrow schema; ValueError when it is not one."""
    try:
        if not isinstance(doc, dict) or doc.get("type") != "struct":
            raise ValueError(
                'the document must be a Spark StructType JSON ({"type": "struct", "fields": [...]})'
            )
        return pa.schema([pa.field(f["name"], _spark_type(f["type"])) for f in doc["fields"]])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a Spark StructType JSON: {type(exc).__name__}: {exc}") from exc


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
