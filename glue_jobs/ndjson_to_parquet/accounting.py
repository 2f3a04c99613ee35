"""Line accounting: every line of every input file is a row, a quarantined record or a blank line, checked by
the job itself before it publishes anything.

The counts travel per file (the manifest url): stage 1 counts the file's lines (the one line rule of
pipeline/contracts/lines.py: split at newlines, a last line without newline counts, a byte order mark at the start
of the file is not content), its blank lines and the lines it quarantined; stage 2 counts the rows it wrote and the
records it quarantined. `check_line_accounting` is pure: the job calls it, the tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import JobError


@dataclass
class FileCount:
    """What became of one input file's lines (a file read by several tasks adds their counts)."""

    lines: int = 0
    rows: int = 0
    quarantined: int = 0
    blank: int = 0

    def add(self, other: FileCount) -> None:
        self.lines += other.lines
        self.rows += other.rows
        self.quarantined += other.quarantined
        self.blank += other.blank


def count_lines(block: bytes) -> int:
    """Lines in a block of whole lines (the line rule: split at \\n, a last line without newline is a line)."""
    if not block:
        return 0
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def merge_counts(*per_task: Iterable[tuple[str, FileCount]]) -> dict[str, FileCount]:
    """The per-file counts of every task of both stages, summed by file."""
    merged: dict[str, FileCount] = {}
    for pairs in per_task:
        for url, count in pairs:
            merged.setdefault(url, FileCount()).add(count)
    return merged


def check_line_accounting(files: Mapping[str, FileCount]) -> None:
    """Raise LineAccountingMismatch unless rows + quarantined + blank == lines for every file."""
    wrong = {url: c for url, c in files.items() if c.rows + c.quarantined + c.blank != c.lines}
    if not wrong:
        return
    described = "; ".join(
        f"{url}: {c.rows} rows + {c.quarantined} quarantined + {c.blank} blank != {c.lines} lines"
        for url, c in sorted(wrong.items())
    )
    raise JobError(
        "LineAccountingMismatch",
        f"{len(wrong)} input file(s) do not account for every line, nothing was published: {described}; "
        "this is a bug in the job, please report it with the files",
        {url: vars(c) for url, c in wrong.items()},
    )
