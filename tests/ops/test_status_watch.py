"""`pipeline status --watch`: the frame assembled from a status report and how it is laid out (pure, no AWS);
the live loop against a stack is tested in test_retry_status.py."""

from __future__ import annotations

from rich.console import Console

from pipeline.cli.views import watch_view
from pipeline.ops.status import DateStatus, Indicator, StatusReport, watch_frame


def _day(date: str, files: dict[str, int], manifests: dict[str, int]) -> DateStatus:
    return DateStatus(
        date_prefix=date,
        files=files,
        bytes={},
        manifests=[],
        manifests_by_status=manifests,
        stuck_manifested=[],
        open_claims=[],
        replays=[],
        totals={},
    )


def _report() -> StatusReport:
    return StatusReport(
        generated_at="2026-10-02T10:00:00Z",
        dates=[
            _day(
                "2026-10-01",
                {"pending": 0, "manifested": 0, "completed": 7, "failed": 2},
                {"pending": 0, "processing": 0, "completed": 2, "failed": 1},
            ),
            _day(
                "2026-10-02",
                {"pending": 3, "manifested": 4, "completed": 1, "failed": 0},
                {"pending": 1, "processing": 1, "completed": 1, "failed": 0},
            ),
        ],
        oldest_pending={"date": "2026-10-02", "key": "raw/2026-10-02/late.ndjson", "created_at": "x"},
        dlq={"visible": 2, "in_flight": 1},
        ingest_queue=None,
        failed_executions=[],
        indicators=[Indicator("failed_manifests", 1, "warning", "")],
    )


def test_frame_counts_files_per_status_and_running_batches_per_date():
    frame = watch_frame(_report(), 754.26, refresh=3, interval=2.0)
    assert frame.rows == [
        {
            "date": "2026-10-01",
            "pending": 0,
            "processing": 0,
            "completed": 7,
            "failed": 2,
            "manifests running": 0,
        },
        {
            "date": "2026-10-02",
            "pending": 3,
            "processing": 4,
            "completed": 1,
            "failed": 0,
            "manifests running": 2,
        },
    ]
    assert frame.totals == {
        "pending": 3,
        "processing": 4,
        "completed": 8,
        "failed": 2,
        "manifests running": 2,
    }
    assert (frame.freshness_seconds, frame.health, frame.dlq_depth, frame.refresh) == (754.3, "warning", 3, 3)


def test_view_shows_refresh_freshness_and_a_row_per_date_plus_the_total():
    console = Console(record=True, width=140, color_system=None)
    console.print(watch_view(watch_frame(_report(), 754.26, refresh=3, interval=2.0)))
    text = console.export_text()
    assert "refresh 3 at 2026-10-02T10:00:00Z, every 2 s" in text
    assert "freshness: 754.3 s (oldest pending file raw/2026-10-02/late.ndjson)" in text
    assert "health: warning" in text and "dead-letter queue: 3" in text
    lines = {line.split()[1]: line.split()[2:] for line in text.splitlines() if line.startswith("│ ")}
    assert lines["2026-10-01"] == ["│", "0", "│", "0", "│", "7", "│", "2", "│", "0", "│"]
    assert lines["2026-10-02"] == ["│", "3", "│", "4", "│", "1", "│", "0", "│", "2", "│"]
    assert lines["all"] == ["│", "3", "│", "4", "│", "8", "│", "2", "│", "2", "│"]


def test_view_of_an_empty_table_says_so_and_shows_zero_freshness():
    report = _report()
    report.dates, report.oldest_pending, report.indicators = [], None, []
    console = Console(record=True, width=140, color_system=None)
    console.print(watch_view(watch_frame(report, 0.0, refresh=1, interval=0.5)))
    text = console.export_text()
    assert "freshness: 0.0 s (no pending file)   health: healthy" in text and "(no tracked file)" in text
