"""Stage 1 parsing: blocks of whole lines -> typed Arrow tables, and the lines that are not JSON objects.

A file (or a range of a large plain file) is cut into blocks of whole lines; each block is parsed by pyarrow in
one call (the fast path). When pyarrow refuses a block or its row count differs from the block's records, the
block is parsed line by line (the slow path), which names each bad line and bisects the good ones back into
pyarrow. Which lines are records is the one line rule of pipeline/contracts/lines.py: every record ends as
exactly one row or one quarantined line.

The fast path gives exactly the slow path's outcome for every line, so a line's fate never depends on its
neighbours. pyarrow is more lenient than JSON in a few ways, each of which sends the block to the slow path: a
record that does not start with `{` (pyarrow takes a `null` line as an all-null row, and crashes when it is first)
is ruled out before it is called, and so is a line that could nest as deep as PYARROW_SAFE_DEPTH (pyarrow's parser
recurses and, far deeper, overflows its stack), both by cheap byte scans; after it, nesting deeper than
MAX_NESTING_DEPTH (pyarrow parses it, but Arrow IPC and the Parquet writer refuse it), seen in the schema, which is
as deep as the deepest line, and the NaN / Infinity / -Infinity tokens (pyarrow reads them as non-finite doubles,
and JSON has no other way to write one: a block whose double columns hold one takes the slow path). The scans are
few passes over the bytes: the newline count (also the block's line count for the accounting), a search for a line
not starting with `{` (when there is none, there is no blank line and no other record to look for) and a memchr
per 1 KiB window (every line shorter than PYARROW_SAFE_DEPTH bytes). An empty object `{}` is a
row with every data column null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from pipeline.contracts.lines import JSON_WHITESPACE, is_blank, records_with_offsets, strip_bom

from .accounting import count_lines
from .conform import conform_table, normalise_table, text_schema
from .constants import BLOCK_BYTES, JSON_CHUNK_BYTES, LINE
from .errors import JobError
from .integers import exact_integers, float_values
from .quarantine import bad_record
from .schema import observe_schema, observe_table, resolve_schema
from .storage import Storage

MAX_NESTING_DEPTH = 32  # levels of objects and arrays, the top object counting as 1; deeper: nesting_too_deep
# The most levels pyarrow's reader is ever given: it recurses per level and overflowed an 8 MiB stack (a segfault)
# between 15,000 and 20,000 levels of objects or arrays (pyarrow 26); 2,048 levels need well under 1 MiB.
PYARROW_SAFE_DEPTH = 2048

_orjson: ModuleType | None
try:  # orjson is faster and stricter (rejects NaN, lone surrogates); the stdlib is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def iter_blocks(
    location: str,
    compressed: bool,
    start: int = 0,
    end: int | None = None,
    block_bytes: int = BLOCK_BYTES,
    storage: Storage | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) blocks of whole lines; offsets are in the decompressed stream. For a range, the lines
    that start in [start, end) (Hadoop LineRecordReader semantics)."""
    stream = (storage if storage is not None else Storage.from_env()).open_text(location, compressed)
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


def strip_block_bom(offset: int, block: bytes) -> tuple[int, bytes]:
    """A file's first block without its byte order mark, and the offset of what remains (the line rule)."""
    if offset == 0:
        stripped = strip_bom(block)
        return len(block) - len(stripped), stripped
    return offset, block


def _loads(line: bytes) -> Any:
    if _orjson is not None:
        return _orjson.loads(line)

    def reject(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(line.decode("utf-8"), parse_constant=reject)


def _read_json(data: bytes, block_size: int = JSON_CHUNK_BYTES) -> pa.Table:
    options = pajson.ReadOptions(use_threads=False, block_size=block_size)
    # pyarrow-stubs: read_json takes a NativeFile too
    table = pajson.read_json(pa.BufferReader(data), read_options=options)  # type: ignore[arg-type]
    # Before any walk of the types (a deep schema would exceed Python's recursion limit): refused as pyarrow
    # refuses bad input, so that the caller's slow path measures and names each line.
    if schema_depth(table.schema) > MAX_NESTING_DEPTH:
        raise pa.ArrowInvalid(f"nesting deeper than {MAX_NESTING_DEPTH} levels")
    strings = text_schema(table.schema)
    if strings is None:
        return table
    # pyarrow parsed ISO strings as timestamps: read them again as the text they are (conform.text_schema)
    parse_options = pajson.ParseOptions(explicit_schema=strings)
    return pajson.read_json(pa.BufferReader(data), read_options=options, parse_options=parse_options)  # type: ignore[arg-type]


@dataclass
class BlockResult:
    tables: list[pa.Table]  # each with an int32 LINE column: ordinal of the record among the block's records
    bad: list[dict[str, Any]]
    records: int  # non-blank lines
    blank: int

    @property
    def lines(self) -> int:
        """The block's lines (the line rule: accounting.count_lines), from the one newline count of the parse."""
        return self.records + self.blank


def parse_block(url: str, offset: int, block: bytes) -> BlockResult:
    """Parse one block of whole lines. Every non-blank line ends up in exactly one table row or bad record."""
    if not block:
        return BlockResult([], [], 0, 0)
    line_count = count_lines(block)
    if every_line_an_object_start(block):  # no blank line, every record an object start
        starts, blank, records = line_count, 0, line_count
    else:
        starts = object_starts(block)
        blank = count_blank_lines(block)
        records = line_count - blank
    if records == 0:
        return BlockResult([], [], 0, blank)
    try:
        if not block.isascii():  # ASCII is valid UTF-8; the check is much cheaper than a decode
            block.decode("utf-8")
        if fast_path_safe(block, records, starts):
            # One pyarrow chunk for the whole block: as fast as 4 MiB chunks on narrow events, and 0.55x the time
            # on 5,000-key objects (pyarrow's cost per chunk is per column; docs/scaling.md, 'Fourth pass').
            table = _read_json(block, len(block) + 1)
            # pyarrow also accepts several objects on one line ({..}{..}): the count catches that (slow path);
            # it reads NaN / Infinity tokens as non-finite doubles, which JSON refuses (the slow path names them);
            # _read_json refuses a line nested deeper than MAX_NESTING_DEPTH (the slow path names it).
            if table.num_rows == records:
                table = normalise(table)  # one chunk per column from here on
                floats = float_values(table)
                if all_finite(floats):
                    table, inexact = exact_integers(block, table, floats)
                    table = _with_line_numbers(table)
                    if inexact:
                        return _without_inexact(url, offset, block, table, inexact, records, blank)
                    return BlockResult([table], [], records, blank)
    except (UnicodeDecodeError, pa.ArrowInvalid):
        pass
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return _parse_block_slowly(url, offset, lines, records, blank)


_OBJECT_START = re.compile(rb"(?:^|\n)[ \t\r]*\{")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'{}[]"\n')))
_ARRAYS_AS_OBJECTS = bytes.maketrans(b"[]", b"{}")
_STRING = re.compile(rb'"[^"\n]*"')


_LINE_NOT_AN_OBJECT_START = re.compile(rb"\n[^{]")


def every_line_an_object_start(block: bytes) -> bool:
    """Whether every line starts with `{` (object_starts(block) == the block's lines), in one regex search: a
    newline followed by anything else, the block's last byte excepted. About half the cost of the two-byte
    count, which only runs when the answer is no."""
    return block.startswith(b"{") and _LINE_NOT_AN_OBJECT_START.search(block) is None


def object_starts(block: bytes) -> int:
    """Lines that start with `{` (no whitespace before it): one byte count."""
    return block.count(b"\n{") + (1 if block.startswith(b"{") else 0)


def fast_path_safe(block: bytes, records: int, starts: int | None = None) -> bool:
    """Whether pyarrow may be called on the block: every record starts with `{` (`starts`: object_starts, when
    the caller counted them) and no line can nest as deep as PYARROW_SAFE_DEPTH. False only costs the slow path,
    which decides line by line. NaN / Infinity tokens and nesting deeper than MAX_NESTING_DEPTH are looked for
    in pyarrow's result (`all_finite`, `schema_depth`)."""
    starts = object_starts(block) if starts is None else starts
    if starts != records and len(_OBJECT_START.findall(block)) != records:
        return False
    return shallow_for_pyarrow(block)


def shallow_for_pyarrow(block: bytes) -> bool:
    """True when no line of the block can nest PYARROW_SAFE_DEPTH levels of objects/arrays, so that pyarrow's
    recursive reader may be given it. A line's depth is at most its length and at most its count of `{` and `[`
    (brackets inside strings only raise that count), so either bound is enough:
    - every aligned window of PYARROW_SAFE_DEPTH // 2 bytes holds a newline (then every line is shorter than
      PYARROW_SAFE_DEPTH bytes): one memchr per window, about 2 ms per 16 MiB of narrow events;
    - else the block (wide records: long lines) holds fewer brackets than that;
    - else the exact scan of the brackets outside strings (`within_depth`), which also answers the question."""
    window = PYARROW_SAFE_DEPTH // 2
    find = block.find
    if all(find(b"\n", start, start + window) >= 0 for start in range(0, len(block) - window + 1, window)):
        return True
    opening = block.count(b"{")  # then `[` only when there is one (memchr): flat wide records have none
    if opening < PYARROW_SAFE_DEPTH and (
        b"[" not in block or opening + block.count(b"[") < PYARROW_SAFE_DEPTH
    ):
        return True
    return within_depth(block)


_STRUCT_ID = pa.struct([]).id
_LIST_IDS = frozenset({pa.list_(pa.null()).id, pa.large_list(pa.null()).id})


def schema_depth(schema: pa.Schema) -> int:
    """Levels of objects/arrays of a pyarrow-read table's schema, the top object counting as 1 (nesting_depth's
    count): pyarrow types a value only where some line has one, so this is the depth of the deepest line. A walk
    with its own stack (the schema may be far deeper than Python's recursion limit), by type id: a 10,000-column
    schema costs a few milliseconds."""
    deepest = 1
    stack = [(kind, 1) for kind in schema.types if kind.id == _STRUCT_ID or kind.id in _LIST_IDS]
    while stack:
        kind, level = stack.pop()
        deepest = max(deepest, level + 1)
        if kind.id == _STRUCT_ID:
            children = [kind.field(index).type for index in range(kind.num_fields)]
        else:
            children = [cast(pa.ListType, kind).value_type]
        stack.extend(
            (child, level + 1) for child in children if child.id == _STRUCT_ID or child.id in _LIST_IDS
        )
    return deepest


def all_finite(floats: list[pa.Array]) -> bool:
    """No double (`floats`: integers.float_values of pyarrow's reading, every level) is NaN or infinite: the
    block held no NaN / Infinity token, the only JSON-like way pyarrow has to make one (an overflowing number
    such as 1e999 is an error). False: the slow path, where the strict parser quarantines each such line
    (invalid_json)."""
    return all(
        values.null_count == len(values) or bool(pc.all(pc.is_finite(values)).as_py()) for values in floats
    )


def _structure(data: bytes) -> bytes:
    """The brackets of `data` outside strings, arrays written as objects, newlines kept (C-speed byte work:
    escaped backslashes and quotes go, then every byte but quotes, brackets and newlines, then the strings)."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = data.translate(_ARRAYS_AS_OBJECTS, _NOT_STRUCTURE)
    # `""` is an emptied string, or the end of one string and the start of the next: both carry no bracket.
    structure = structure.replace(b'""', b"")
    return _STRING.sub(b"", structure) if b'"' in structure else structure


def within_depth(data: bytes) -> bool:
    """True when no line of `data` nests objects/arrays deeper than MAX_NESTING_DEPTH (the top object counts):
    each pass removes the innermost pairs, so MAX_NESTING_DEPTH passes empty any balanced line within it.
    Unbalanced brackets (invalid JSON) also answer False (the slow path then measures each line)."""
    structure = _structure(data)
    for _ in range(MAX_NESTING_DEPTH):
        if b"{" not in structure:
            return True
        structure = structure.replace(b"{}", b"")
    return b"{" not in structure


def nesting_depth(line: bytes) -> int:
    """The deepest level of objects/arrays of one line, brackets outside strings (the top object is 1)."""
    depth = deepest = 0
    for byte in _structure(line):
        if byte == 0x7B:  # {
            depth += 1
            deepest = max(deepest, depth)
        elif byte == 0x7D:  # }
            depth -= 1
    return deepest


def normalise(table: pa.Table) -> pa.Table:
    """normalise_table, keeping the rows of a table without columns (a block of `{}` lines)."""
    return table if table.num_columns == 0 else normalise_table(table)


def conform_rows(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, dict[int, str]]:
    """conform_table, keeping the rows when the schema has no columns (a batch of only `{}` lines)."""
    if len(schema) == 0:
        return table.select([]), {}
    return conform_table(table, schema)


_SPACES = b"[" + re.escape(JSON_WHITESPACE) + b"]*"  # the line rule's whitespace, as a regex
_BLANK_AFTER_NEWLINE = re.compile(rb"\n(?=" + _SPACES + rb"\n)")


_BLANK_FIRST_LINE = re.compile(_SPACES + rb"\n")


def count_blank_lines(block: bytes) -> int:
    """Lines holding only JSON whitespace, without splitting the block (a regex that only stops at newlines)."""
    if not block:
        return 0
    blank = len(_BLANK_AFTER_NEWLINE.findall(block))  # terminated blank lines after the first line
    if _BLANK_FIRST_LINE.match(block):
        blank += 1
    if not block.endswith(b"\n") and is_blank(block[block.rfind(b"\n") + 1 :]):
        blank += 1  # an unterminated last line of whitespace
    return blank


def _without_inexact(
    url: str, offset: int, block: bytes, table: pa.Table, inexact: dict[int, str], records: int, blank: int
) -> BlockResult:
    """The fast path's result when some records hold an integer no column type holds exactly (integers.py)."""
    bad: list[dict[str, Any]] = []
    for ordinal, line_offset, line in records_with_offsets(block.split(b"\n"), offset):
        if ordinal in inexact:
            bad.append(bad_record(url, line_offset, line, inexact[ordinal]))
    keep = pa.array([row not in inexact for row in range(table.num_rows)])
    return BlockResult([table.filter(keep)], bad, records, blank)


def _with_line_numbers(table: pa.Table) -> pa.Table:
    return _add_line_column(table, pa.array(range(table.num_rows), pa.int32()))


def _add_line_column(table: pa.Table, ordinals: pa.Array) -> pa.Table:
    if LINE in table.column_names:
        raise JobError(
            "ReservedColumn",
            f"the input has a field named {LINE}, reserved for the job's own bookkeeping; rename it upstream",
        )
    return table.append_column(LINE, ordinals)


def _parse_block_slowly(url: str, offset: int, lines: list[bytes], records: int, blank: int) -> BlockResult:
    bad: list[dict[str, Any]] = []
    good: list[tuple[int, int, bytes]] = []  # (ordinal, offset, line)
    for ordinal, line_offset, line in records_with_offsets(lines, offset):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(bad_record(url, line_offset, line, f"invalid_utf8: {exc.reason} at byte {exc.start}"))
            continue
        if not within_depth(line):
            depth = nesting_depth(line)
            if depth > MAX_NESTING_DEPTH:
                reason = (
                    f"nesting_too_deep: {depth} levels of objects/arrays, the limit is {MAX_NESTING_DEPTH}"
                )
                bad.append(bad_record(url, line_offset, line, reason))
                continue
        try:
            value = _loads(line)
        except ValueError as exc:
            bad.append(bad_record(url, line_offset, line, f"invalid_json: {exc}"))
            continue
        if not isinstance(value, dict):
            kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
                type(value), "number"
            )
            bad.append(bad_record(url, line_offset, line, f"not_a_json_object: the line is a JSON {kind}"))
            continue
        good.append((ordinal, line_offset, line))

    tables: list[pa.Table] = []

    def parse(items: list[tuple[int, int, bytes]]) -> None:
        error: Exception | None = None
        try:
            data = b"\n".join(item[2] for item in items)
            table = _read_json(data)
            if table.num_rows == len(items):
                table, inexact = exact_integers(data, table)
                table = _add_line_column(normalise(table), pa.array([i[0] for i in items], pa.int32()))
                for row, reason in inexact.items():
                    bad.append(bad_record(url, items[row][1], items[row][2], reason))
                if inexact:
                    table = table.filter(pa.array([row not in inexact for row in range(len(items))]))
                tables.append(table)
                return
            error = ValueError(f"{table.num_rows} rows for {len(items)} lines")
        except pa.ArrowInvalid as exc:
            error = exc
        if len(items) == 1 and len(items[0][2]) >= JSON_CHUNK_BYTES:
            # One record longer than pyarrow's chunk ("straddles two block boundaries"): parse it in one chunk.
            try:
                table = _read_json(items[0][2], block_size=len(items[0][2]) + 1)
                table, inexact = exact_integers(items[0][2], table)
                if inexact:
                    _, line_offset, line = items[0]
                    bad.append(bad_record(url, line_offset, line, inexact[0]))
                    return
                if table.num_rows == 1:
                    tables.append(_add_line_column(normalise(table), pa.array([items[0][0]], pa.int32())))
                    return
            except pa.ArrowInvalid as exc:
                error = exc
        if len(items) == 1:
            _, line_offset, line = items[0]
            message = str(error).replace("JSON parse error: ", "").split(" in row ")[0]
            bad.append(bad_record(url, line_offset, line, f"unconvertible: {message}"))
            return
        middle = len(items) // 2
        parse(items[:middle])
        parse(items[middle:])

    if good:
        parse(good)
    return BlockResult(merge_compatible_tables(tables), bad, records, blank)


def merge_compatible_tables(tables: list[pa.Table]) -> list[pa.Table]:
    """Concatenate the pieces of one block whose schemas merge without conflict (few, large pieces)."""
    groups: list[list[pa.Table]] = []
    schemas: list[pa.Schema] = []
    for table in tables:
        for index, schema in enumerate(schemas):
            observations = [*observe_table(table), *observe_schema(schema)]
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
            conformed, bad = conform_rows(table.drop_columns([LINE]), data_schema)
            assert not bad, "merged only when conflict-free"
            parts.append(conformed.append_column(LINE, table.column(LINE)))
        merged.append(pa.concat_tables(parts))
    return merged
