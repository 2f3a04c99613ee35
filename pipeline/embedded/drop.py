"""The files a `demo` or `run` drops: a generated demo drop, or a user's folder, with their line counts.

Each file's non-blank lines are counted up front by the job's own line rule: the verifier later checks that every
one of them ended in the lake or in the quarantine.
"""

from __future__ import annotations

import datetime as dt
import gzip
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.contracts.errors import PipelineError
from pipeline.contracts.lines import count_records
from pipeline.contracts.suffixes import is_gzip_name
from pipeline.embedded.preflight import InputFile

APPROX_EVENT_BYTES = 740  # average size of one sample_data event as NDJSON


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
    per_file = max(10, int(spec.total_mb * 1_000_000 / APPROX_EVENT_BYTES / spec.files))
    files: list[DropFile] = []
    first_date_files = spec.files // 2
    dirty = spec.dirty_files()
    dirty_every = max(1, per_file // max(spec.bad_lines_per_dirty_file, 1))
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


def drop_files_from(inputs: list[InputFile]) -> list[DropFile]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda f: count_lines(f.path), inputs))
    return [
        DropFile(path=f.path, key=f.key, size=f.size, lines=n) for f, n in zip(inputs, counts, strict=True)
    ]
