"""The Glue job's error name read from a caught `States.TaskFailed` cause (pure, no AWS)."""

from __future__ import annotations

import json

import pytest

from pipeline.control_plane.domain.failure import job_error_name, job_error_text


def _run(message: object) -> str:
    return json.dumps({"Id": "jr_1", "JobRunState": "FAILED", "ErrorMessage": message})


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (_run("BadRecordRatioExceeded: 12 of 20 lines are bad"), "BadRecordRatioExceeded"),
        (_run("JobError: TaskFailed: OSError: [Errno 28] No space left on device"), "TaskFailed"),
        (_run("InternalError: ValueError: boom; this is a bug"), "InternalError"),
        (_run("  ManifestEntryMissing: mandatory file(s) not found: s3://b/k"), "ManifestEntryMissing"),
        (_run("An error occurred while calling o89.save"), None),  # not one of the job's own errors
        (_run(None), None),
        (json.dumps({"errorType": "ManifestFilesNotVisible"}), None),  # a Lambda error, not a Glue run
        ("not json at all", None),
        ("", None),
        (None, None),
    ],
)
def test_job_error_name(cause, expected):
    assert job_error_name(cause) == expected


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (
            _run("BadRecordRatioExceeded: 12 of 20 lines are bad"),
            "BadRecordRatioExceeded: 12 of 20 lines are bad",
        ),
        (_run("JobError: TaskFailed: OSError: disk full"), "TaskFailed: OSError: disk full"),
        (_run("something broke"), None),
        ("not json", None),
        (None, None),
    ],
)
def test_the_job_error_text_is_the_name_and_sentence(cause: str | None, expected: str | None) -> None:
    assert job_error_text(cause) == expected
