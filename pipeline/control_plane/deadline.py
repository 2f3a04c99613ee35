"""The time left in the current invocation, per thread (one service object serves concurrent invocations in
tests and in the embedded mode)."""

from __future__ import annotations

import threading
import time
from typing import Any


class Deadline:
    def __init__(self) -> None:
        self._local = threading.local()

    def start(self, context: Any | None, default_seconds: float = 900.0) -> None:
        seconds = default_seconds
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining_ms):
            try:
                seconds = float(remaining_ms()) / 1000.0
            except (TypeError, ValueError):
                seconds = default_seconds
        self._local.ends_at = time.monotonic() + seconds

    def remaining(self) -> float:
        ends_at = getattr(self._local, "ends_at", None)
        return float("inf") if ends_at is None else ends_at - time.monotonic()
