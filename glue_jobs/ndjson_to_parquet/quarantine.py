"""Quarantined records: the JSON line written for each bad record, and the raw lines looked up again.

A quarantined record keeps its file, byte offset, reason and the raw line (base64 too when it is not UTF-8), so
that an operator can fix and replay it. Stage 1 quarantines lines that are not JSON objects; stage 2 quarantines
records whose value cannot be converted to the batch type, re-reading their raw lines from the source block
(pieces hold typed data only).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from pipeline.contracts.lines import records_with_offsets

from .storage import Storage


def bad_record(url: str, offset: int, line: bytes, reason: str) -> dict[str, Any]:
    raw = line[:-1] if line.endswith(b"\r") else line
    record: dict[str, Any] = {
        "source_file": url,
        "offset": offset,
        "reason": reason,
        "raw_line": raw.decode("utf-8", errors="backslashreplace"),
    }
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        record["raw_line_base64"] = base64.b64encode(raw).decode("ascii")
    return record


@dataclass
class BadRecords:
    """The bad records one task found, counted by reason kind (the text before the reason's first colon)."""

    lines: list[bytes] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, record: dict[str, Any], kind: str | None = None) -> None:
        kind = kind or record["reason"].split(":", 1)[0]
        self.reasons[kind] = self.reasons.get(kind, 0) + 1
        self.lines.append(json.dumps(record, ensure_ascii=False).encode("utf-8"))

    def write(self, storage: Storage, location: str) -> str | None:
        """Stage the records as NDJSON at `location`; None (nothing written) when there are none."""
        if not self.lines:
            return None
        storage.write_bytes(location, b"\n".join(self.lines) + b"\n")
        return location


def reread_records(
    storage: Storage, source: str, compressed: bool, block_offset: int, length: int, ordinals: list[int]
) -> dict[int, tuple[int, bytes]]:
    """The raw lines (with offsets) of a block's records, by ordinal, for quarantining conversion failures."""
    wanted = set(ordinals)
    found: dict[int, tuple[int, bytes]] = {}
    stream = storage.open_text(source, compressed)
    try:
        stream.seek(block_offset)
        block = stream.read(length)
    finally:
        stream.close()
    for ordinal, line_offset, line in records_with_offsets(block.split(b"\n"), block_offset):
        if ordinal in wanted:
            found[ordinal] = (line_offset, line)
    return found
