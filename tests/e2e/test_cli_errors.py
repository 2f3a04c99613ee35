"""What a newcomer meets before anything starts: one sentence, the fix, a stable error name, exit status 2.

Each case runs the real `pipeline` command in a subprocess with the machine set up the wrong way (no Terraform on
PATH, no Java, an old Java, a busy port, an empty or missing input folder, not enough disk), plus `pipeline query`
on a small real lake.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contracts.errors import PipelineError
from pipeline.embedded import preflight

REPO = Path(__file__).resolve().parents[2]


def _pipeline(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
        check=False,
    )


def _bin_with(tmp_path: Path, **tools: str) -> str:
    """A PATH folder holding only the named tools (linked to the real ones, or small scripts)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, target in tools.items():
        link = folder / name
        if target.startswith("#!"):
            link.write_text(target, encoding="utf-8")
            link.chmod(0o755)
        else:
            link.symlink_to(target)
    return str(folder)


def _java() -> str:
    java = shutil.which("java")
    assert java, "the test machine has Java 17"
    return os.path.realpath(java)


def test_terraform_missing(tmp_path):
    path = _bin_with(tmp_path, java=_java())
    result = _pipeline("demo", "--workdir", str(tmp_path / "w"), env={"PATH": path, "JAVA_HOME": ""})
    assert result.returncode == 2, result.stderr
    assert "error[TerraformNotFound]" in result.stderr
    assert "Install Terraform" in result.stderr
    assert not (tmp_path / "w" / "lake").exists()  # nothing was started


def test_java_missing(tmp_path):
    path = _bin_with(tmp_path, terraform=shutil.which("terraform") or "/usr/bin/false")
    result = _pipeline("demo", "--workdir", str(tmp_path / "w"), env={"PATH": path, "JAVA_HOME": ""})
    assert result.returncode == 2
    assert "error[JavaNotFound]" in result.stderr and "Java 17" in result.stderr


def test_java_too_old(tmp_path):
    old_java = "#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n"
    path = _bin_with(tmp_path, java=old_java, terraform=shutil.which("terraform") or "/usr/bin/false")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ndjson").write_text('{"a": 1}\n', encoding="utf-8")
    result = _pipeline(
        "run",
        "--input",
        str(tmp_path / "in"),
        "--workdir",
        str(tmp_path / "w"),
        env={"PATH": path, "JAVA_HOME": ""},
    )
    assert result.returncode == 2
    assert "error[JavaTooOld]" in result.stderr and "Java 11 was found" in result.stderr


def test_port_in_use(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = _pipeline("up", "--workdir", str(tmp_path / "w"), "--port", str(port))
    assert result.returncode == 2
    assert "error[PortInUse]" in result.stderr and f"Port {port}" in result.stderr
    assert "--port" in result.stderr


def test_input_folder_empty_missing_or_a_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not ndjson", encoding="utf-8")
    result = _pipeline("run", "--input", str(empty), "--workdir", str(tmp_path / "w"))
    assert result.returncode == 2
    assert "error[InputEmpty]" in result.stderr and "1 other files were ignored" in result.stderr
    result = _pipeline("run", "--input", str(tmp_path / "nope"), "--workdir", str(tmp_path / "w"))
    assert result.returncode == 2 and "error[InputNotFound]" in result.stderr
    result = _pipeline("run", "--input", str(empty / "notes.txt"), "--workdir", str(tmp_path / "w"))
    assert result.returncode == 2 and "error[InputNotADirectory]" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_input_folder_unreadable(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "a.ndjson").write_text("{}\n", encoding="utf-8")
    folder.chmod(0)
    try:
        with pytest.raises(PipelineError) as error:
            preflight.scan_input(folder)
        assert error.value.error_name == "InputUnreadable"
    finally:
        folder.chmod(0o755)


def test_not_enough_disk(tmp_path):
    result = _pipeline("demo", "--workdir", str(tmp_path / "w"), "--size-mb", "1e12")
    assert result.returncode == 2
    assert "error[DiskFull]" in result.stderr and "--workdir" in result.stderr


def test_unsupported_codec_is_refused_before_anything_starts(tmp_path):
    result = _pipeline("demo", "--workdir", str(tmp_path / "w"), "--compression", "lzo")
    assert result.returncode == 2
    assert "error[UnsupportedCompression]" in result.stderr and "zstd" in result.stderr


def test_scan_input_keeps_the_relative_layout_and_accepted_suffixes(tmp_path):
    for name in (
        "2026-11-20/a.ndjson",
        "2026-11-20/b.jsonl.gz",
        "dt=2026-11-21/c d.json",
        "x/readme.md",
        ".hidden/e.ndjson",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"{}\n")
    keys = [f.key for f in preflight.scan_input(tmp_path)]
    assert keys == ["2026-11-20/a.ndjson", "2026-11-20/b.jsonl.gz", "dt=2026-11-21/c d.json"]


def _small_lake(root: Path) -> Path:
    lake = root / "lake"
    for day, rows in (("2026-11-20", 3), ("2026-11-21", 2)):
        folder = lake / f"dt={day}"
        folder.mkdir(parents=True)
        table = pa.table(
            {"event_type": ["click"] * rows, "amount": [1.5] * rows, "_manifest_id": [f"{day}-m"] * rows}
        )
        pq.write_table(table, folder / f"{day}-m.part-00000.parquet")
    bad = root / "quarantine" / "dt=2026-11-20" / "manifest_id=2026-11-20-m"
    bad.mkdir(parents=True)
    (bad / "bad-records.read-00000.ndjson").write_text(
        '{"source_file": "s3://in/a.ndjson", "reason": "invalid_json", "raw_line": "{x"}\n', encoding="utf-8"
    )
    (lake / "_reports").mkdir()
    (lake / "_reports" / "x.json").write_text("{}", encoding="utf-8")
    return lake


def test_query_formats_and_errors(tmp_path):
    lake = _small_lake(tmp_path)
    sql = "SELECT dt, count(*) AS n FROM events GROUP BY dt ORDER BY dt"
    as_json = _pipeline("query", sql, "--lake", str(lake), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [{"dt": "2026-11-20", "n": 3}, {"dt": "2026-11-21", "n": 2}]
    as_csv = _pipeline("query", sql, "--lake", str(lake), "--format", "csv")
    assert as_csv.stdout.splitlines() == ["dt,n", "2026-11-20,3", "2026-11-21,2"]
    as_table = _pipeline("query", "SELECT sum(amount) AS total FROM events", "--lake", str(lake))
    assert "7.5" in as_table.stdout
    quarantine = _pipeline(
        "query", "SELECT dt, reason FROM quarantine", "--lake", str(lake), "--format", "csv"
    )
    assert quarantine.stdout.splitlines() == ["dt,reason", "2026-11-20,invalid_json"]
    bad = _pipeline("query", "SELECT nope FROM events", "--lake", str(lake))
    assert bad.returncode == 2 and "error[QueryFailed]" in bad.stderr
    empty = _pipeline("query", "SELECT 1", "--lake", str(tmp_path / "missing"))
    assert empty.returncode == 2 and "error[LakeEmpty]" in empty.stderr and "pipeline demo" in empty.stderr


FAILING_TERRAFORM = """#!/bin/sh
case "$1" in
  version) case "$2" in -json) echo '{"terraform_version": "1.11.0"}' ;; *) echo "Terraform v1.11.0" ;; esac ;;
  *) echo "Error: simulated failure of terraform $1" >&2; exit 1 ;;
esac
"""


def test_a_failure_after_the_start_prints_its_name_and_cause(tmp_path):
    """A Terraform that fails once the embedded AWS is up (a fake at the tool's port: `version` answers, `init`
    fails). The progress spinner was running then and swallowed the error line: the run exited 1 saying nothing."""
    folder = Path(_bin_with(tmp_path, terraform=FAILING_TERRAFORM))
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    proc = _pipeline(
        "demo", "--workdir", str(tmp_path / "work"), "--files", "2", "--size-mb", "1", env=env, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "error[TerraformInitFailed]" in output, output
    assert "simulated failure of terraform" in output, output
