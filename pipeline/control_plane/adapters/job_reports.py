"""S3 adapter for the Glue job's reports: the status update reads the report the state machine points it to
(the state machine itself carries only the location: a report with a wide schema exceeds its 256 KiB limit)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.errors import JobReportNotReadable
from pipeline.contracts.manifest import split_s3_url
from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code


class JobReports:
    def __init__(self, client: Any, retry: RetryPolicy) -> None:
        self._client = client
        self._retry = retry

    def read(self, path: str) -> dict[str, Any]:
        bucket, key = split_s3_url(path)
        try:
            response = self._retry.call(lambda: self._client.get_object(Bucket=bucket, Key=key))
            body = response["Body"].read()
        except ClientError as exc:
            raise JobReportNotReadable(
                f"The job report {path} could not be read ({error_code(exc) or exc}): the status update needs "
                "s3:GetObject on the reports prefix (and kms:Decrypt on the bucket's key); a 403 for a missing "
                "report means it was never written."
            ) from exc
        try:
            report = json.loads(body)
        except ValueError as exc:
            raise JobReportNotReadable(f"The job report {path} is not JSON: {exc}.") from exc
        if not isinstance(report, dict):
            raise JobReportNotReadable(f"The job report {path} is not a JSON object.")
        return report
