"""Status values and the transitions allowed between them (pure).

The tracking adapter builds the condition of each status write from these tables (``file_sources_for``,
``manifest_sources_for``), so a transition allowed here is exactly a write DynamoDB accepts there. A file's
completion is by reference: the status update writes only the MANIFEST item, and ``effective_file_status`` is the
one rule that turns a file item and its manifest's status into the status every reader shows.
"""

from __future__ import annotations

from enum import StrEnum

from pipeline.contracts.errors import InvalidTransition


class FileStatus(StrEnum):
    PENDING = "pending"
    MANIFESTED = "manifested"
    COMPLETED = "completed"
    FAILED = "failed"


class ManifestStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL_MANIFEST_STATUSES = frozenset({ManifestStatus.COMPLETED, ManifestStatus.FAILED})


# The control plane's own writes on a file item. A file's completion is not written on the file: it stays
# `manifested` with its `manifest_id`, and its status is its manifest's final one (`effective_file_status`,
# "completion by reference"). `completed` and `failed` are stored only on items written before that rule
# (they read as they are) and, derived, what every reader shows.
FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PENDING: frozenset({FileStatus.MANIFESTED}),
    # back to pending = rollback of a claim whose execution never started
    FileStatus.MANIFESTED: frozenset({FileStatus.PENDING}),
    FileStatus.COMPLETED: frozenset(),
    FileStatus.FAILED: frozenset(),
}

MANIFEST_TRANSITIONS: dict[ManifestStatus, frozenset[ManifestStatus]] = {
    ManifestStatus.PENDING: frozenset(
        {ManifestStatus.PROCESSING, ManifestStatus.COMPLETED, ManifestStatus.FAILED}
    ),
    ManifestStatus.PROCESSING: frozenset(
        {ManifestStatus.PROCESSING, ManifestStatus.COMPLETED, ManifestStatus.FAILED}
    ),
    ManifestStatus.COMPLETED: frozenset({ManifestStatus.COMPLETED}),
    ManifestStatus.FAILED: frozenset({ManifestStatus.FAILED}),
}

# Moves only an operator makes, never the control plane, on stored statuses: `pipeline replay` puts a date's
# finished files back to pending (a stored `completed`/`failed` item, or a `manifested` one whose manifest is final:
# that reset is conditioned on the MANIFEST item too, in one transaction); `pipeline retry` puts a failed
# manifest's files back to `manifested` (old items stored `failed`/`completed`; `manifested` ones only have their
# TTL refreshed).
OPERATOR_FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.MANIFESTED: frozenset({FileStatus.PENDING, FileStatus.MANIFESTED}),
    FileStatus.COMPLETED: frozenset({FileStatus.PENDING, FileStatus.MANIFESTED}),
    FileStatus.FAILED: frozenset({FileStatus.PENDING, FileStatus.MANIFESTED}),
}

# Stored final statuses: only items written before completion by reference carry them.
STORED_FINAL_FILE_STATUSES = frozenset({FileStatus.COMPLETED, FileStatus.FAILED})


def effective_file_status(status: str | None, manifest_status: str | None) -> str | None:
    """A file's status as every reader shows it, the one owner of that rule (completion by reference).

    ``status`` is the file item's own status, ``manifest_status`` the status of the MANIFEST item its
    ``manifest_id`` names (None when there is no such item, or the file has no manifest). A `manifested` file whose
    manifest is final takes the manifest's final status; any other file reads as stored. Items written before the
    rule (files stored `completed`/`failed`) therefore read as they did.
    """
    if status == FileStatus.MANIFESTED and manifest_status in FINAL_MANIFEST_STATUSES:
        return str(manifest_status)
    return status


def file_sources_for(target: FileStatus) -> frozenset[FileStatus]:
    """Statuses a file may be in for a move to ``target`` (used to build DynamoDB conditions)."""
    return frozenset(src for src, targets in FILE_TRANSITIONS.items() if target in targets)


def operator_file_sources_for(target: FileStatus) -> frozenset[FileStatus]:
    return frozenset(src for src, targets in OPERATOR_FILE_TRANSITIONS.items() if target in targets)


def manifest_sources_for(target: ManifestStatus) -> frozenset[ManifestStatus]:
    return frozenset(src for src, targets in MANIFEST_TRANSITIONS.items() if target in targets)


def check_manifest_transition(current: ManifestStatus | None, target: ManifestStatus) -> bool:
    """True if the move changes something, False if it is a repeat; raises when it is not allowed.

    ``current`` None means the MANIFEST item has no status yet.
    """
    if current is None:
        return True
    if target not in MANIFEST_TRANSITIONS[current]:
        raise InvalidTransition(f"manifest status cannot go from {current.value} to {target.value}")
    return current != target or current not in FINAL_MANIFEST_STATUSES
