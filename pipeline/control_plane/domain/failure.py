"""What a failed conversion says (pure): the Glue job's stable error name inside a Step Functions `Cause`.

A failed `glue:startJobRun.sync` task is caught as `States.TaskFailed`; its `Cause` is the Glue job run as JSON,
whose `ErrorMessage` the job starts with its stable error name (`BadRecordRatioExceeded: ...`, `TaskFailed: ...`;
Glue may put the exception class first: `JobError: TaskFailed: ...`). The MANIFEST item keeps that name as
`job_error` next to the caught `error`, so an operator sees what to fix without decoding the cause.
"""

from __future__ import annotations

import json
import re

_JOB_ERROR = re.compile(r"^(?:JobError: )?([A-Z][A-Za-z0-9]+): ")


def job_error_text(cause: str | None) -> str | None:
    """The job's `<error name>: <sentence>` from a caught error's cause (without Glue's `JobError: ` prefix), or
    None when the cause is not a failed Glue job run that names its error."""
    if not cause:
        return None
    try:
        run = json.loads(cause)
    except ValueError:
        return None
    message = run.get("ErrorMessage") if isinstance(run, dict) else None
    if not isinstance(message, str) or not _JOB_ERROR.match(message.strip()):
        return None
    text = message.strip()
    return text.removeprefix("JobError: ")


def job_error_name(cause: str | None) -> str | None:
    """The job's error name from a caught error's cause, or None when the cause is not a failed Glue job run."""
    if not cause:
        return None
    try:
        run = json.loads(cause)
    except ValueError:
        return None
    message = run.get("ErrorMessage") if isinstance(run, dict) else None
    if not isinstance(message, str):
        return None
    match = _JOB_ERROR.match(message.strip())
    return match.group(1) if match else None
