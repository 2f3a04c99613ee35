"""Status values and the transitions allowed between them (pure).

The tracking adapter builds the condition of each status write from these tables (``file_sources_for``,
``manifest_sources_for``), so a transition allowed here is exactly a write DynamoDB accepts there.
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


FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PENDING: frozenset({FileStatus.MANIFESTED}),
    # back to pending = rollback of a claim whose execution never started
    FileStatus.MANIFESTED: frozenset({FileStatus.PENDING, FileStatus.COMPLETED, FileStatus.FAILED}),
    # a status update may be repeated, and the last verdict wins until the MANIFEST item is final
    FileStatus.COMPLETED: frozenset({FileStatus.COMPLETED, FileStatus.FAILED}),
    FileStatus.FAILED: frozenset({FileStatus.FAILED, FileStatus.COMPLETED}),
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

FINAL_MANIFEST_STATUSES = frozenset({ManifestStatus.COMPLETED, ManifestStatus.FAILED})

# Moves only an operator makes, never the control plane: `pipeline replay` puts a date's finished files back to
# pending, `pipeline retry` puts a failed manifest's files back to manifested (through the finish write below).
OPERATOR_FILE_TRANSITIONS: dict[FileStatus, frozenset[FileStatus]] = {
    FileStatus.COMPLETED: frozenset({FileStatus.PENDING, FileStatus.MANIFESTED}),
    FileStatus.FAILED: frozenset({FileStatus.PENDING, FileStatus.MANIFESTED}),
}


def file_sources_for(target: FileStatus) -> frozenset[FileStatus]:
    """Statuses a file may be in for a move to ``target`` (used to build DynamoDB conditions)."""
    return frozenset(src for src, targets in FILE_TRANSITIONS.items() if target in targets)


def operator_file_sources_for(target: FileStatus) -> frozenset[FileStatus]:
    return frozenset(src for src, targets in OPERATOR_FILE_TRANSITIONS.items() if target in targets)


# The statuses a file of a manifest may be finished from: a status update may repeat, the last verdict wins.
FINISHABLE_FILE_STATUSES = file_sources_for(FileStatus.COMPLETED)


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
