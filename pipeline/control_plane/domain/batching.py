"""Batching policy (pure): when a batch is full, when a partial batch is old enough, which files go in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    @property
    def size(self) -> int: ...


S = TypeVar("S", bound=Sized)


@dataclass(frozen=True)
class BatchPolicy:
    max_files: int
    max_bytes: int
    max_wait_seconds: int

    def is_full(self, file_count: int, total_bytes: int) -> bool:
        """A date's pending files make at least one closed batch."""
        return file_count >= self.max_files or total_bytes >= self.max_bytes

    def is_due(self, oldest_created_at: datetime, now: datetime) -> bool:
        """A partial batch whose oldest file has waited long enough is started by the flush."""
        return now - oldest_created_at >= timedelta(seconds=self.max_wait_seconds)

    def accumulator(self) -> BatchAccumulator:
        return BatchAccumulator(self)

    def select(self, candidates: Iterable[S]) -> Selection[S]:
        """Take files in the given (age) order until the batch is full (see ``BatchAccumulator``)."""
        batch = self.accumulator()
        chosen: list[S] = []
        for candidate in candidates:
            if not batch.offer(candidate.size):
                break
            batch.add(candidate.size)
            chosen.append(candidate)
            if batch.closed:
                break
        return Selection(tuple(chosen), batch.total_bytes, closed=batch.closed)


class BatchAccumulator:
    """Grows one batch file by file. The first file always goes in (a file larger than ``max_bytes`` makes a
    batch of one); a file that would push the batch over ``max_bytes`` is refused and closes it. ``closed`` tells
    whether the batch reached a limit, as opposed to running out of files."""

    def __init__(self, policy: BatchPolicy) -> None:
        self.policy = policy
        self.file_count = 0
        self.total_bytes = 0
        self.closed = False

    def offer(self, size: int) -> bool:
        """True if a file of ``size`` bytes goes in (then count it with ``add``), False if it closes the batch."""
        if self.closed:
            return False
        if self.file_count and self.total_bytes + size > self.policy.max_bytes:
            self.closed = True
            return False
        return True

    def add(self, size: int) -> None:
        self.file_count += 1
        self.total_bytes += size
        if self.file_count >= self.policy.max_files or self.total_bytes >= self.policy.max_bytes:
            self.closed = True

    @property
    def remaining_files(self) -> int:
        return 0 if self.closed else self.policy.max_files - self.file_count


@dataclass(frozen=True)
class Selection(Generic[S]):
    files: Sequence[S]
    total_bytes: int
    closed: bool

    @property
    def file_count(self) -> int:
        return len(self.files)
