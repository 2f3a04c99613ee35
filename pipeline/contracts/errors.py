"""The one error base, and the stable error names of failures that cross a boundary (Lambda, Step Functions, CLI).

Every error we raise on purpose derives from `PipelineError`, so a boundary needs one `except` and no duck
typing: the CLI maps it to `error[<name>]: <sentence>` (plus the fix) and an exit status, the Lambda logs it,
scripts and tests match on `error_name`. This module is stdlib only: it ships in both the Lambda zip and the Glue
job's artifacts.

Two kinds of error share the base, told apart by `fix`:
- raised for a person (the embedded pipeline's checks: `PipelineError.named(name, message, fix, exit_code)`):
  `fix` is a string (maybe empty) and the message is complete; `str()` is `<name>: <message> Fix: <fix>`;
- raised from deeper down (a class per failure, e.g. `InvalidEvent`, `TerraformApplyFailed`): `fix` is None,
  `str()` is the message as raised, and the CLI points at the log for details.

Step Functions sees the Python class name as ``errorType`` of a failed Lambda invocation, so the class names of
the control-plane errors below are part of the contract too.
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """A failure with a stable `error_name` (class name by default), one sentence, an optional fix, an exit code."""

    error_name: str = "PipelineError"
    exit_code: int = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "error_name" not in cls.__dict__:
            cls.error_name = cls.__name__

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        exit_code: int | None = None,
        error_name: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code
        if error_name is not None:
            self.error_name = error_name

    @classmethod
    def named(cls, error_name: str, message: str, fix: str = "", exit_code: int = 1) -> PipelineError:
        """An error raised for a person: a name of its own, the sentence, the fix and the exit status."""
        return cls(message, fix=fix, exit_code=exit_code, error_name=error_name)

    @property
    def actionable(self) -> bool:
        """True when raised for a person (message and fix are complete); False for one from deeper down."""
        return self.fix is not None

    def __str__(self) -> str:
        if self.fix is None:
            return super().__str__()
        text = f"{self.error_name}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error_name, "message": self.message}


class InvalidConfiguration(PipelineError):
    error_name = "InvalidConfiguration"


class InvalidEvent(PipelineError):
    """An SQS message or invocation payload that is not what this function accepts (retried, then DLQ)."""

    error_name = "InvalidEvent"


class ManifestNotFound(PipelineError):
    """No MANIFEST item under that id (`pipeline retry`)."""

    error_name = "ManifestNotFound"


class ManifestNotReadable(PipelineError):
    """S3 answered 403 for a manifest object: missing or not permitted (S3 answers 403, not 404, for a missing key
    when the caller lacks s3:ListBucket on the bucket), so the caller cannot tell the two apart."""

    error_name = "ManifestNotReadable"


class JobReportNotReadable(PipelineError):
    """The status update could not read the job report the state machine pointed it to (missing, denied, not
    JSON): the manifest stays processing and the state machine alerts; `pipeline reconcile` repairs it."""

    error_name = "JobReportNotReadable"


class ManifestAlreadyFinal(PipelineError):
    error_name = "ManifestAlreadyFinal"


class ManifestFilesNotVisible(PipelineError):
    """Fewer file items than the manifest lists are visible yet (index lag): retry the status update."""

    error_name = "ManifestFilesNotVisible"


class InvalidTransition(PipelineError):
    error_name = "InvalidTransition"
