"""The object names the pipeline converts (stdlib only): NDJSON under any of its usual suffixes, plain or gzip.

The manifest builder's default ``ACCEPTED_SUFFIXES`` (Terraform's ``accepted_suffixes`` defaults to the same list),
the invariant checker and ``pipeline run``'s choice of input files all read this module. Matching ignores case.
"""

from __future__ import annotations

PLAIN_SUFFIXES = (".ndjson", ".jsonl", ".json")
GZIP_SUFFIX = ".gz"
DEFAULT_SUFFIXES = (*PLAIN_SUFFIXES, *(suffix + GZIP_SUFFIX for suffix in PLAIN_SUFFIXES))


def has_accepted_suffix(name: str, suffixes: tuple[str, ...] = DEFAULT_SUFFIXES) -> bool:
    """True when ``name`` (a key or a file name) ends with one of ``suffixes``, ignoring case."""
    lowered = name.lower()
    return any(lowered.endswith(suffix.lower()) for suffix in suffixes)


def is_gzip_name(name: str) -> bool:
    return name.lower().endswith(GZIP_SUFFIX)
