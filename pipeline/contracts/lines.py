"""The one line rule: which lines of an NDJSON file are records (stdlib only; the Glue job ships it too).

A file is split at ``\\n``. A line holding only JSON's insignificant whitespace (space, tab, carriage return;
RFC 8259 section 2) is blank: it is neither a row nor a quarantined record. Every other line is a record and must
end as exactly one row or one quarantined record; a line of other whitespace (a form feed, a vertical tab, a
no-break space) is a record that is not JSON, so it is quarantined. A UTF-8 byte order mark is dropped from the
start of a file only (one mid-file is content). The Glue job (``records_in``), the invariant checker and the
``pipeline run`` verifier all count with this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

JSON_WHITESPACE = b" \t\r"
BOM = b"\xef\xbb\xbf"


def is_blank(line: bytes) -> bool:
    """True for a line (without or with its ``\\n``) that holds only JSON whitespace."""
    return not line.rstrip(b"\n").strip(JSON_WHITESPACE)


def strip_bom(content: bytes) -> bytes:
    """``content`` without a leading UTF-8 byte order mark (the start of a file only)."""
    return content[len(BOM) :] if content.startswith(BOM) else content


def count_records(lines: Iterable[bytes]) -> int:
    """Records among the lines of one whole file, in order (the first may carry a byte order mark)."""
    count = 0
    for index, line in enumerate(lines):
        if index == 0:
            line = strip_bom(line)
        if not is_blank(line):
            count += 1
    return count


def count_records_in(content: bytes) -> int:
    """Records in the decompressed content of one whole file."""
    return count_records(content.split(b"\n"))


def records_with_offsets(lines: Iterable[bytes], offset: int) -> Iterator[tuple[int, int, bytes]]:
    """``(ordinal, byte offset, line)`` of each record among consecutive lines (split at ``\n``, without it) that
    start at byte ``offset``: ordinals count records only, blank lines are skipped but keep their bytes."""
    ordinal = -1
    position = offset
    for line in lines:
        line_offset = position
        position += len(line) + 1
        if is_blank(line):
            continue
        ordinal += 1
        yield ordinal, line_offset, line
