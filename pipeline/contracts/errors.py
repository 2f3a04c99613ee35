"""Stable error names for failures that cross a boundary (Lambda, Step Functions, CLI).

Each error carries ``error_name`` (stable, machine-readable: Step Functions Retry/Catch match on it) and a human
sentence. Step Functions sees the Python class name as ``errorType`` of a failed Lambda invocation, so the class
names below are part of the contract too.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: ``error_name`` plus a sentence for a human."""

    error_name = "PipelineError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error_name, "message": self.message}


class InvalidConfiguration(PipelineError):
    error_name = "InvalidConfiguration"


class InvalidEvent(PipelineError):
    """An SQS message or invocation payload that is not what this function accepts (retried, then DLQ)."""

    error_name = "InvalidEvent"


class ExecutionStartFailed(PipelineError):
    error_name = "ExecutionStartFailed"


class ManifestNotFound(PipelineError):
    error_name = "ManifestNotFound"


class ManifestAlreadyFinal(PipelineError):
    error_name = "ManifestAlreadyFinal"


class ManifestFilesNotVisible(PipelineError):
    """Fewer file items than the manifest lists are visible yet (index lag): retry the status update."""

    error_name = "ManifestFilesNotVisible"


class InvalidTransition(PipelineError):
    error_name = "InvalidTransition"
