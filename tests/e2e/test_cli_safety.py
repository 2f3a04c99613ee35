"""The CLI never deletes a user's files, and running again in one work folder never silently duplicates.

Each case runs the real `pipeline` command in a subprocess as a user would type it. The quick cases are refused
before anything starts (exit 2, one sentence naming the paths, the user's files still there); the slow one runs
`pipeline run` twice on tiny inputs in one work folder (the embedded AWS and Terraform, ~2 minutes each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _pipeline(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        # The files are relative to `cwd` (a user's folder), the code is this checkout's.
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def _events(folder: Path, date: str, name: str, count: int) -> Path:
    path = folder / date / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"event_id": f"{name}-{i}", "event_type": "click", "occurred_at": f"{date}T10:00:{i:02d}.000Z"}
        )
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_clean_refuses_an_input_folder_inside_the_work_folder(tmp_path: Path) -> None:
    """`pipeline run --input w/input --workdir w --clean`: refused before anything starts; the files stay."""
    mine = _events(tmp_path / "w" / "input", "2026-10-05", "x.ndjson", 3)
    before = mine.read_bytes()

    result = _pipeline("run", "--input", "w/input", "--workdir", "w", "--clean", cwd=tmp_path, timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    one_line = " ".join(result.stderr.split())
    assert "error[InputInsideCleanedFolder]" in one_line
    assert str((tmp_path / "w" / "input").resolve()) in one_line  # the --input folder ...
    assert f"work folder {(tmp_path / 'w').resolve()}" in one_line  # ... and the work folder, both named
    assert "Traceback" not in result.stderr
    assert "Applying terraform" not in result.stdout  # nothing started
    assert mine.read_bytes() == before


def test_demo_refuses_a_users_input_folder(tmp_path: Path) -> None:
    """The demo replaces `<workdir>/input` with generated files: never when the user made that folder."""
    mine = _events(tmp_path / "w" / "input", "2026-10-05", "x.ndjson", 2)

    result = _pipeline("demo", "--workdir", "w", "--files", "2", "--size-mb", "0.5", cwd=tmp_path, timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    one_line = " ".join(result.stderr.split())
    assert "error[WorkdirFolderNotOurs]" in one_line
    assert str((tmp_path / "w" / "input").resolve()) in one_line
    assert mine.is_file()


def test_append_is_refused_clearly(tmp_path: Path) -> None:
    _events(tmp_path / "in", "2026-10-05", "a.ndjson", 2)

    result = _pipeline("run", "--input", "in", "--workdir", "w", "--append", cwd=tmp_path, timeout=60)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "error[AppendNotSupported]" in result.stderr
    assert not (tmp_path / "w").exists()  # nothing started, nothing written


@pytest.mark.e2e
@pytest.mark.terraform
def test_a_clean_run_spares_the_users_files_and_a_second_run_replaces_the_first(tmp_path: Path) -> None:
    """Run 1 (`--clean`, in a work folder holding the user's own file and own `logs/` folder) keeps both; run 2
    in the same work folder (no `--clean`) replaces run 1's table: `pipeline query` counts run 2's lines, not the sum."""
    workdir = tmp_path / "w"
    (workdir / "logs").mkdir(parents=True)
    notes = workdir / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    own_log = workdir / "logs" / "mine.txt"
    own_log.write_text("keep me\n", encoding="utf-8")
    _events(tmp_path / "in1", "2026-10-05", "a.ndjson", 3)
    _events(tmp_path / "in1", "2026-10-06", "b.ndjson", 2)
    _events(tmp_path / "in2", "2026-10-05", "c.ndjson", 4)

    first = _pipeline("run", "--input", "in1", "--workdir", "w", "--clean", cwd=tmp_path, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "5 rows this run added to the lake" in first.stdout
    assert "new (the lake held no previous table)" in first.stdout
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    assert own_log.read_text(encoding="utf-8") == "keep me\n"
    record = json.loads((workdir / ".pipeline-created.json").read_text(encoding="utf-8"))
    assert "lake" in record["folders"] and "logs" not in record["folders"]  # the user made logs/

    second = _pipeline("run", "--input", "in2", "--workdir", "w", cwd=tmp_path, timeout=600)  # the default
    assert second.returncode == 0, second.stdout + second.stderr
    assert "4 rows this run added to the lake" in second.stdout
    assert "replaced the previous run's table" in second.stdout
    assert "every input line of this run" in " ".join(second.stdout.split())
    assert notes.is_file() and own_log.is_file()

    counted = _pipeline(
        "query", "SELECT count(*) AS n FROM events", "--workdir", "w", "--format", "json", cwd=tmp_path
    )
    assert counted.returncode == 0, counted.stdout + counted.stderr
    assert json.loads(counted.stdout) == [{"n": 4}]  # run 2's own input, not 3 + 2 + 4
