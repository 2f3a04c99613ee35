"""What `pipeline run` tells a user about their own folder: what it skips and why, where undated files land, which
fields the catalog leaves out, and, when a batch fails, its error, the files most responsible, the commands to
inspect and retry it, and a glue.log that holds the job's output.

One real run backs most cases (module-scoped: ONE Terraform apply on the embedded AWS, ~2-3 minutes): a folder
holding a dated day whose two files have too many bad lines (the batch fails `--max-bad-ratio 0.1`), a dated file
with field names Athena cannot map (`my field`, `a.b`), a file outside any date folder, a README.txt and a hidden
file, and a truncated .gz in a day of its own (its batch fails with no bad lines). The Parquet table format, because the catalog registration (which leaves such fields out) is its own; the
Iceberg table keeps every field. The quick cases need no stack.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "400", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **extra}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    return env


def _pipeline(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _events(count: int, **extra: object) -> list[str]:
    return [json.dumps({"event_id": f"e{i}", "event_type": "click", "n": i, **extra}) for i in range(count)]


@dataclass(frozen=True)
class Run:
    proc: subprocess.CompletedProcess[str]
    folder: Path  # the input folder
    workdir: Path
    today: str  # the UTC day of the run (the undated file's partition)

    @property
    def out(self) -> str:
        return _one_line(self.proc.stdout + self.proc.stderr)


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("messy")
    folder = root / "in"
    # Both files of 2026-10-05 are over a 0.1 ratio on their own, so the day's batch fails however it is cut.
    _write(folder / "2026-10-05" / "mostly-bad.ndjson", _events(10) + ["{not json"] * 30)
    _write(folder / "2026-10-05" / "slightly.ndjson", _events(20) + ["{oops"] * 3)
    _write(folder / "2026-10-06" / "fields.ndjson", _events(5, **{"my field": 1, "a.b": "x"}))
    _write(folder / "loose.ndjson", _events(3))
    whole = gzip.compress("".join(line + "\n" for line in _events(300)).encode())
    (folder / "2026-10-07").mkdir()
    (folder / "2026-10-07" / "cut.ndjson.gz").write_bytes(whole[: len(whole) // 2])  # a truncated download
    (folder / "README.txt").write_text("what these files are\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    proc = _pipeline(
        "run",
        "--input",
        "in",
        "--workdir",
        "w",
        "--table-format",
        "parquet",
        "--max-bad-ratio",
        "0.1",
        "--timeout",
        "300",
        cwd=root,
        timeout=900,
    )
    return Run(proc=proc, folder=folder.resolve(), workdir=(root / "w").resolve(), today=today)


@pytest.mark.e2e
@pytest.mark.terraform
def test_a_failed_batch_names_its_error_and_the_files_with_the_most_bad_lines(messy_run: Run) -> None:
    out = messy_run.out
    assert messy_run.proc.returncode == 1, out
    assert "error[RunIncomplete]" in out, out
    assert "Traceback" not in out
    assert re.search(
        r"BadRecordRatioExceeded: \d+ of \d+ records are bad \([\d.]+%\), above --MAX_BAD_RECORD_RATIO 0\.1",
        out,
    ), out
    bad_file = messy_run.folder / "2026-10-05" / "mostly-bad.ndjson"
    # The culprits: the user's own paths, most bad lines first, with their counts.
    assert f"the files with the most bad lines: {bad_file} (30 bad)" in out, out
    assert "raise --max-bad-ratio" in out, out
    assert "pipeline retry " in out and "--outputs " in out and "--endpoint-url " in out, out
    assert "--keep-running" in out


@pytest.mark.e2e
@pytest.mark.terraform
def test_a_batch_failed_without_bad_lines_names_its_files_and_its_job_run(messy_run: Run) -> None:
    """A truncated .gz: the job fails its batch (InputFileUnreadable), nothing is quarantined, so the batch's
    files are named, and the printed `grep` shows its job run in glue.log."""
    cut = messy_run.folder / "2026-10-07" / "cut.ndjson.gz"
    found = re.search(
        r"batch (2026-10-07-\S+) ended failed: InputFileUnreadable: .*?; its files: ([^\s;]+)", messy_run.out
    )
    assert found, messy_run.out
    assert found.group(2) == str(cut), messy_run.out
    manifest_id = found.group(1)
    commands = re.findall(rf"`(grep {manifest_id} \S+)`", messy_run.out)
    assert commands, messy_run.out
    grep = subprocess.run(shlex.split(commands[0]), capture_output=True, text=True, check=False)
    assert grep.returncode == 0, grep.stderr
    assert f"(manifest {manifest_id}) FAILED: InputFileUnreadable" in grep.stdout, grep.stdout


@pytest.mark.e2e
@pytest.mark.terraform
def test_the_printed_inspect_command_works_after_the_run(messy_run: Run) -> None:
    """The failure names a `pipeline query` over the batch's quarantine: copied as printed, it runs (the embedded
    AWS has stopped) and shows the bad lines per file."""
    commands = re.findall(r"`(pipeline query [^`]*FROM quarantine[^`]*)`", messy_run.out)
    assert commands, messy_run.out
    args = shlex.split(commands[0])
    assert args[0] == "pipeline"
    shown = _pipeline(*args[1:], "--format", "json", cwd=Path("/"))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = json.loads(shown.stdout)
    by_file = {(Path(r["source_file"]).name, r["reason"].split(":")[0]): r["lines"] for r in rows}
    assert rows[0]["lines"] == 30 and rows[0]["source_file"].endswith("/2026-10-05/mostly-bad.ndjson"), rows
    assert sum(by_file.values()) == 33, rows


@pytest.mark.e2e
@pytest.mark.terraform
def test_glue_log_holds_the_jobs_output_and_its_error(messy_run: Run) -> None:
    log = messy_run.workdir / "logs" / "glue.log"
    assert f"the job's output and error are in {log}" in messy_run.out, messy_run.out
    text = log.read_text(encoding="utf-8")
    assert "FAILED: BadRecordRatioExceeded: " in text, text
    assert "above --MAX_BAD_RECORD_RATIO 0.1" in text
    succeeded = [line for line in text.splitlines() if " SUCCEEDED in " in line]
    assert len(succeeded) == 2, text  # 2026-10-06 and the upload day
    report = json.loads(succeeded[0].split("; report: ", 1)[1])
    assert report["status"] == "succeeded" and report["records_out"] in (3, 5)
    assert "started: " in text and "--MANIFEST_PATH s3://" in text


@pytest.mark.e2e
@pytest.mark.terraform
def test_the_summary_counts_failed_batches(messy_run: Run) -> None:
    found = re.search(r"batches \(manifests\) │ (\d+) batches: 2 completed, (\d+) failed", messy_run.out)
    assert found, messy_run.out
    assert int(found.group(1)) == 2 + int(found.group(2)) >= 3


@pytest.mark.e2e
@pytest.mark.terraform
def test_skipped_and_undated_files_are_announced_before_the_upload(messy_run: Run) -> None:
    stdout = _one_line(messy_run.proc.stdout)
    upload = stdout.index("upload to S3")
    skipped = stdout.index(
        f"skipped 1 file of {messy_run.folder}, not uploaded (not .ndjson, .jsonl or .json, optionally .gz): "
        "README.txt"
    )
    assert skipped < upload, stdout
    hidden = stdout.index("not uploaded (hidden: its name or a folder's starts with '.'): .DS_Store")
    assert hidden < upload, stdout
    undated = stdout.index(
        f"no date folder: 1 file not under a YYYY-MM-DD/ (or dt=YYYY-MM-DD/) folder lands in partition "
        f"dt={messy_run.today}, the day of the upload (UTC): loose.ndjson"
    )
    assert undated < upload, stdout
    # ... and the run did put it there.
    assert re.search(rf"│ \S+ │ {messy_run.today} │ 1 │ 3 │ 0 │ 1 │ completed │", stdout), stdout


@pytest.mark.e2e
@pytest.mark.terraform
def test_fields_left_out_of_the_catalog_are_in_the_summary(messy_run: Run) -> None:
    stdout = _one_line(messy_run.proc.stdout)
    row = re.search(r"left out of the catalog │ ([^│]*)│", stdout)
    assert row, stdout
    assert row.group(1).startswith("2 fields (kept in the Parquet files"), row.group(1)
    assert "my field: Athena names allow only" in row.group(1)
    assert "a.b: Athena names allow only" in row.group(1)
    summary = json.loads((messy_run.workdir / "logs" / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["catalog_skipped_columns"]) == 2
    assert summary["undated_files"] == ["loose.ndjson"]


def test_skipped_files_are_listed_before_anything_starts(tmp_path: Path) -> None:
    """Listed as soon as the folder is read, before the checks of Java and Terraform (this PATH has neither, so
    the run stops there): count, the first names, 'and N more', the reason."""
    folder = tmp_path / "in"
    _write(folder / "2026-10-05" / "a.ndjson", _events(2))
    for i in range(7):
        (folder / f"notes-{i}.txt").write_text("x\n", encoding="utf-8")
    env = _env(PATH=str(Path(sys.executable).parent))
    env.pop("JAVA_HOME", None)
    proc = _pipeline("run", "--input", str(folder), "--workdir", str(tmp_path / "w"), cwd=tmp_path, env=env)
    out = _one_line(proc.stdout + proc.stderr)
    assert proc.returncode == 2 and "error[Java" in out, out
    assert (
        f"skipped 7 files of {folder}, not uploaded (not .ndjson, .jsonl or .json, optionally .gz): "
        "notes-0.txt, notes-1.txt, notes-2.txt, notes-3.txt, notes-4.txt and 2 more"
    ) in out, out


def test_the_quarantine_can_be_queried_when_every_batch_failed(tmp_path: Path) -> None:
    """No table at all (every batch over its ratio), only the quarantine: the inspect command still works."""
    bad = tmp_path / "w" / "quarantine" / "dt=2026-10-05" / "manifest_id=2026-10-05-m"
    _write(
        bad / "bad-records.read-00000.ndjson",
        [
            json.dumps({"source_file": "s3://in/x.ndjson", "offset": i, "reason": "invalid_json"})
            for i in range(4)
        ],
    )
    (tmp_path / "w" / "lake").mkdir()
    sql = (
        "SELECT source_file, reason, count(*) AS lines FROM quarantine "
        "WHERE manifest_id = '2026-10-05-m' GROUP BY ALL ORDER BY lines DESC"
    )
    proc = _pipeline("query", sql, "--workdir", "w", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == [
        {"source_file": "s3://in/x.ndjson", "reason": "invalid_json", "lines": 4}
    ]
    empty = _pipeline("query", "SELECT 1", "--workdir", str(tmp_path / "nothing"), cwd=tmp_path)
    assert empty.returncode == 2 and "error[LakeEmpty]" in empty.stderr
