"""The job's one error type: a stable `error_name` the state machine and the operator match on, plus a sentence.

Every failure the job can explain is a `JobError`; `main` prints it as `ErrorName: sentence` (and on Glue the run
fails with that message, which the ASL Catch sees). Spark task bodies return it as a value (see tasks.Guarded), so
the driver re-raises the same name instead of Spark's wrapped traceback.
"""

from __future__ import annotations

from typing import Any


class JobError(Exception):
    """A failure with a stable `error_name` and a sentence a human can act on."""

    def __init__(self, error_name: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{error_name}: {message}")
        self.error_name = error_name
        self.message = message
        self.details = details or {}
