"""Which numbers of a Glue job report the MANIFEST item keeps (pure): the counts an operator sums per date."""

from __future__ import annotations

from typing import Any

REPORT_COUNTS = ("records_in", "records_out", "bad_records", "bytes_in", "bytes_out")


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    """The numbers of a Glue job report worth keeping on the MANIFEST item."""
    counts: dict[str, int] = {}
    for name in REPORT_COUNTS:
        value = report.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[name] = value
    output_files = report.get("output_files")
    if isinstance(output_files, list):
        counts["output_files"] = len(output_files)
    elif isinstance(output_files, int) and not isinstance(output_files, bool):
        counts["output_files"] = output_files
    return counts
