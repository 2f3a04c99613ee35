"""Errors the embedded pipeline and the CLI report: a stable name, one sentence, and the fix."""

from __future__ import annotations


class PipelineError(Exception):
    """An error a user can act on. `error_name` is stable (scripts and tests match on it)."""

    def __init__(self, error_name: str, message: str, fix: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.message = message
        self.fix = fix
        self.exit_code = exit_code

    def __str__(self) -> str:
        text = f"{self.error_name}: {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text
