"""Step Functions adapter: start an execution named after the manifest, find one by name."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code


class Executions:
    def __init__(self, client: Any, state_machine_arn: str, retry: RetryPolicy) -> None:
        self._client = client
        self._arn = state_machine_arn
        self._retry = retry

    def arn_for(self, name: str) -> str:
        head, machine = self._arn.rsplit(":stateMachine:", 1)
        return f"{head}:execution:{machine}:{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start (or find the already started) execution ``name``; its ARN. Raises ClientError otherwise."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        try:
            response = self._retry.call(
                lambda: self._client.start_execution(stateMachineArn=self._arn, name=name, input=body)
            )
            return str(response["executionArn"])
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
        # A retried start of the same manifest: the execution of that name is ours.
        arn = self.find(name)
        if arn is None:
            raise RuntimeError(f"execution {name} reported as existing but cannot be described")
        return arn

    def find(self, name: str) -> str | None:
        arn = self.arn_for(name)
        try:
            self._retry.call(lambda: self._client.describe_execution(executionArn=arn))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise
        return arn
