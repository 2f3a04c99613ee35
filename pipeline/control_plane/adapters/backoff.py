"""Retries of throttled and transient AWS calls: capped exponential backoff with full jitter, never past the
time the Lambda has left."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionConflictException",
    }
)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in RETRYABLE_CODES or (isinstance(status, int) and status >= 500)
    return False


def _no_deadline() -> float:
    return float("inf")


@dataclass
class RetryPolicy:
    """``remaining`` returns the seconds left in the invocation; ``reserve`` seconds are kept for clean-up."""

    max_attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0
    reserve: float = 3.0
    remaining: Callable[[], float] = _no_deadline
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def call(
        self, operation: Callable[[], T], retryable: Callable[[BaseException], bool] = is_retryable
    ) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except Exception as exc:
                if attempt >= self.max_attempts or not retryable(exc):
                    raise
                delay = self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
                if self.remaining() - delay < self.reserve:
                    raise
                self.sleep(delay)


def describe(exc: BaseException) -> str:
    """A short cause for logs: the AWS error code and message, never a payload."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
