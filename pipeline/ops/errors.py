"""Errors raised by the operator commands: a stable name for scripts and one sentence for humans."""

from __future__ import annotations

from pipeline.contracts.errors import PipelineError


class OpsError(PipelineError):
    """Base class: `error_name` is stable (scripts match on it), the message is one human sentence."""

    error_name = "OpsError"


class StackNameMissing(OpsError):
    error_name = "StackNameMissing"


class StackOutputsInvalid(OpsError):
    error_name = "StackOutputsInvalid"


class InvalidDate(OpsError):
    error_name = "InvalidDate"


class ManifestNotRetryable(OpsError):
    error_name = "ManifestNotRetryable"


class RetryStartFailed(OpsError):
    error_name = "RetryStartFailed"


class RedriveFailed(OpsError):
    error_name = "RedriveFailed"


class BackfillFailed(OpsError):
    error_name = "BackfillFailed"


class DateBusy(OpsError):
    error_name = "DateBusy"


class ReplayFailed(OpsError):
    error_name = "ReplayFailed"


class AwsCallFailed(OpsError):
    error_name = "AwsCallFailed"


class TableNotFound(OpsError):
    error_name = "TableNotFound"


class TableFormatUnsupported(OpsError):
    error_name = "TableFormatUnsupported"
