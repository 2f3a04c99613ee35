"""The run summary's "of which Glue job runs" is a part of its parent row "batches" (issue 15, item 7).

The summary showed "batches 6.8 s, of which Glue job runs 7.2 s": the Glue seconds were the sum of every run's
duration, while the batches stage started only once the last file was tracked, after the first run had begun. Now
the batches stage starts with the first batch (pipeline/embedded/run.py) and the Glue row is the time within that
stage during which a Glue run was running (`busy_seconds`), never more than the stage.
"""

from __future__ import annotations

import random

import pytest

from pipeline.embedded.summary import busy_seconds


def test_a_run_that_began_before_the_window_counts_only_its_part_inside() -> None:
    # The numbers: runs of 3.0 s and 4.2 s (7.2 s in all), the first begun 2 s before a 6.8 s window.
    runs = [(8.0, 11.0), (11.0, 15.2)]
    assert sum(end - begin for begin, end in runs) == pytest.approx(7.2)
    assert busy_seconds(runs, 10.0, 16.8) == pytest.approx(1.0 + 4.2)


def test_overlapping_runs_count_once_and_a_running_one_until_the_end() -> None:
    assert busy_seconds([(0.0, 4.0), (1.0, 3.0), (2.0, 5.0)], 0.0, 10.0) == pytest.approx(5.0)
    assert busy_seconds([(6.0, None)], 0.0, 10.0) == pytest.approx(4.0)
    assert busy_seconds([(11.0, 12.0), (-3.0, -1.0)], 0.0, 10.0) == 0.0
    assert busy_seconds([], 0.0, 10.0) == 0.0


def test_never_more_than_the_window() -> None:
    rng = random.Random(15)
    for _ in range(500):
        start = rng.uniform(0, 50)
        end = start + rng.uniform(0, 30)
        runs = []
        for _ in range(rng.randint(0, 8)):
            begin = rng.uniform(-10, 90)
            runs.append((begin, None if rng.random() < 0.1 else begin + rng.uniform(0, 20)))
        busy = busy_seconds(runs, start, end)
        assert 0.0 <= busy <= end - start + 1e-9
