"""The files a `demo` or `run` drops: a generated demo drop, or a user's folder, with their line counts.

Each file's non-blank lines are counted up front by the job's own line rule: the verifier later checks that every
one of them ended in the lake or in the quarantine.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import math
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from glue_jobs.ndjson_to_parquet.args import JobArgs
from pipeline.contracts.errors import PipelineError
from pipeline.contracts.lines import count_records
from pipeline.contracts.suffixes import is_gzip_name
from pipeline.embedded.preflight import InputFile

logger = logging.getLogger(__name__)

APPROX_EVENT_BYTES = 740  # average size of one sample_data event as NDJSON
# The job's default --MAX_BAD_RECORD_RATIO: a demo whose files with corrupt lines exceed it would fail its own run.
DEMO_MAX_BAD_RATIO: float = JobArgs.max_bad_record_ratio


@dataclass(frozen=True)
class DemoSpec:
    files: int = 20
    total_mb: float = 50.0
    seed: int = 20261122
    gzip_every: int = 10  # every 10th file gzip-compressed (the job reads both)
    dirty_file_count: int = 3  # files holding a few corrupt lines
    bad_lines_per_dirty_file: int = 3

    def __post_init__(self) -> None:
        if self.files < 2:  # the one check of `pipeline demo --files` (the CLI maps the error)
            raise PipelineError.named(
                "InvalidOption",
                f"--files must be at least 2 (one per date), got {self.files}.",
                "Pass --files 2 or more.",
                exit_code=2,
            )
        if not self.total_mb > 0:
            raise PipelineError.named(
                "InvalidOption",
                f"--size-mb {self.total_mb:g} is out of range: it must be a number greater than 0.",
                f"Pass --size-mb with a number of megabytes, at least {self.min_total_mb():g} for "
                f"--files {self.files}.",
                exit_code=2,
            )
        bad, lines = self.dirty_file_lines()
        if bad / lines > DEMO_MAX_BAD_RATIO:
            raise PipelineError.named(
                "InvalidOption",
                f"--size-mb {self.total_mb:g} is out of range for --files {self.files}: it must be at least "
                f"{self.min_total_mb():g}, because each of the demo's files with corrupt lines would then hold "
                f"{bad} bad of {lines} lines, over the job's bad-line ratio of {DEMO_MAX_BAD_RATIO:g}, and its "
                "batch would fail.",
                f"Pass --size-mb {self.min_total_mb():g} or more (or fewer --files).",
                exit_code=2,
            )

    @property
    def events_per_file(self) -> int:
        return max(10, int(self.total_mb * 1_000_000 / APPROX_EVENT_BYTES / self.files))

    @property
    def dirty_every(self) -> int:
        return max(1, self.events_per_file // max(self.bad_lines_per_dirty_file, 1))

    def dirty_file_lines(self) -> tuple[int, int]:
        """(corrupt lines, all lines) of one file with corrupt lines: a batch may hold that file alone."""
        events = self.events_per_file
        bad = events // self.dirty_every if self.dirty_file_count else 0
        return bad, events + bad

    def min_total_mb(self) -> float:
        """The smallest --size-mb (to 0.1 MB) whose files with corrupt lines stay within the bad-line ratio."""
        for tenths in range(1, 1_000_000):
            trial = replace(self, total_mb=tenths / 10, dirty_file_count=0)
            bad = trial.events_per_file // max(
                1, trial.events_per_file // max(self.bad_lines_per_dirty_file, 1)
            )
            if bad / (trial.events_per_file + bad) <= DEMO_MAX_BAD_RATIO:
                return tenths / 10
        return math.inf

    def dirty_files(self) -> set[int]:
        count = min(self.dirty_file_count, self.files)
        return {
            round(i * (self.files - 1) / max(count, 1)) + (1 if count < self.files else 0)
            for i in range(count)
        } & set(range(self.files))


@dataclass(frozen=True)
class DropFile:
    path: Path
    key: str
    size: int
    lines: int  # non-blank lines: each one must end in the lake or in the quarantine
    bad_lines: int | None = None  # known for generated files


def generate_demo_drop(folder: Path, spec: DemoSpec, today: dt.date | None = None) -> list[DropFile]:
    """Two dates of realistic events with a few corrupt lines and one schema change (the second date's second
    half gains fields), laid out as `events/<date>/part-<nn>.ndjson[.gz]`."""
    from pipeline.embedded.sample_data import write_drop

    today = today or dt.datetime.now(dt.UTC).date()
    dates = (today - dt.timedelta(days=1), today)
    per_file = spec.events_per_file
    files: list[DropFile] = []
    first_date_files = spec.files // 2
    dirty = spec.dirty_files()
    dirty_every = spec.dirty_every
    for index in range(spec.files):
        day = dates[0] if index < first_date_files else dates[1]
        position = index - (0 if index < first_date_files else first_date_files)
        second_half = position >= (spec.files - first_date_files) // 2
        drift = day == dates[1] and second_half
        compressed = spec.gzip_every > 0 and index % spec.gzip_every == spec.gzip_every - 1
        key = f"events/{day.isoformat()}/part-{index:04d}.ndjson" + (".gz" if compressed else "")
        path = folder / key
        stats = write_drop(
            path,
            per_file,
            seed=spec.seed + index,
            day=day,
            dirty_every=dirty_every if index in dirty else None,
            gzip=compressed,
            drift=drift,
        )
        files.append(
            DropFile(path=path, key=key, size=stats.bytes, lines=stats.lines, bad_lines=stats.bad_lines)
        )
    return files


def count_lines(path: Path) -> int:
    """Records of an NDJSON file (gzip when it ends in .gz), by the job's own line rule (pipeline.contracts.lines)."""
    opener = gzip.open if is_gzip_name(path.name) else open
    with opener(path, "rb") as handle:
        return count_records(handle)


def _count_input(path: Path) -> int:
    """`count_lines`, or 0 for a file that cannot be decompressed (a truncated or not-gzip `.gz`): it is uploaded
    all the same, and the Glue job fails its batch naming it (InputFileUnreadable), as it would on AWS."""
    try:
        return count_lines(path)
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        logger.warning("cannot count the lines of %s (%s): the Glue job will report it", path, exc)
        return 0


def drop_files_from(inputs: list[InputFile]) -> list[DropFile]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda f: _count_input(f.path), inputs))
    return [
        DropFile(path=f.path, key=f.key, size=f.size, lines=n) for f, n in zip(inputs, counts, strict=True)
    ]
