"""Small things a newcomer trips over in the embedded commands' output (issue 15, item 7).

Quick cases on a small real lake (DuckDB through `pipeline query` in a subprocess); the cases that need a whole
run (the summary's timings, Ctrl-C during the Glue stage, Spark's start-up lines) are in test_run_signals.py and
test_embedded_pipeline.py, which share their embedded stacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs.ndjson_to_parquet.quarantine import bad_record

REPO = Path(__file__).resolve().parents[2]


def _pipeline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _lake_with_quarantine(root: Path) -> Path:
    """A Parquet lake of two dates and a quarantine holding two records as the Glue job writes them."""
    lake = root / "lake"
    for day, rows in (("2026-11-20", 3), ("2026-11-21", 2)):
        folder = lake / f"dt={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"event_type": ["click"] * rows}), folder / f"{day}-m.part-00000.parquet")
    bad = root / "quarantine" / "dt=2026-11-20" / "manifest_id=2026-11-20-m"
    bad.mkdir(parents=True)
    records = [
        bad_record("s3://in/a.ndjson", 0, b"{x", "invalid_json: truncated"),
        bad_record("s3://in/a.ndjson", 37, b"[1]", "not_a_json_object: the line is a JSON array"),
    ]
    (bad / "bad-records.read-00000.ndjson").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    return lake


def test_the_quarantine_view_names_the_offset_line_offset_so_no_quoting_is_needed(tmp_path: Path) -> None:
    """The job's records hold `offset`, a reserved word: `SELECT offset ...` is a syntax error in DuckDB. The
    view calls it `line_offset` (as docs/analysts.md says, and its Athena table)."""
    lake = _lake_with_quarantine(tmp_path)
    sql = "SELECT source_file, line_offset, reason FROM quarantine ORDER BY line_offset"
    result = _pipeline("query", sql, "--lake", str(lake), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(r["line_offset"], r["reason"].split(":")[0]) for r in json.loads(result.stdout)] == [
        (0, "invalid_json"),
        (37, "not_a_json_object"),
    ]
    columns = _pipeline("query", "DESCRIBE quarantine", "--lake", str(lake), "--format", "json", cwd=tmp_path)
    names = [row["column_name"] for row in json.loads(columns.stdout)]
    assert "offset" not in names and {"line_offset", "dt", "manifest_id", "raw_line"} <= set(names)
    docs = (REPO / "docs" / "analysts.md").read_text(encoding="utf-8")
    assert "line_offset bigint" in docs and "`offset` bigint" not in docs


def test_the_sample_query_hint_is_a_command_that_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The hint after a run printed `pipeline query "..." --lake ...` (a literal `...`); it is now the command
    itself, quoted for the shell, and pasting it prints the same result."""
    from pipeline.cli.embedded import _print_query

    lake = _lake_with_quarantine(tmp_path)
    monkeypatch.chdir(tmp_path)
    sql = "SELECT dt, count(*) AS \"it's n\" FROM events WHERE event_type = 'click' GROUP BY dt ORDER BY dt"
    _print_query(sql, lake, "events")
    printed = capsys.readouterr().out
    assert '"..."' not in printed
    lines = printed.splitlines()
    command = lines[lines.index("Sample query (the command runs it again):") + 1].strip()
    assert "--lake lake" in command  # the lake as typed from here
    pasted = subprocess.run(
        ["bash", "-c", command + " --format json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert pasted.returncode == 0, pasted.stderr
    assert json.loads(pasted.stdout) == [{"dt": "2026-11-20", "it's n": 3}, {"dt": "2026-11-21", "it's n": 2}]
    assert "2026-11-20" in printed and "3" in printed  # the same result printed after the hint
