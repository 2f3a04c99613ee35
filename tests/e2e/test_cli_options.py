"""Every bad option of `pipeline demo|run` is refused before anything starts (no JVM, no embedded AWS, no
Terraform: neither is on the PATH the tests give it, and nothing is written to the workdir): exit status 2, one line
naming the option, the value and the accepted range."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.embedded.preflight import OPTION_BOUNDS, check_compression

REPO = Path(__file__).resolve().parents[2]


def _pipeline(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    # An empty PATH but Python's: had the command got as far as Java or Terraform, it would fail differently.
    env = {**os.environ, "COLUMNS": "200", "PATH": str(Path(sys.executable).parent)}
    env.pop("JAVA_HOME", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--workdir", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    return proc, time.monotonic() - started


@pytest.fixture
def input_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "in" / "2026-10-05"
    folder.mkdir(parents=True)
    (folder / "x.ndjson").write_text('{"a": 1}\n', encoding="utf-8")
    return folder.parent


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "99999"], "--port 99999 is out of range: it must be an integer from 1 to 65535"),
        (["--port", "0"], "--port 0 is out of range: it must be an integer from 1 to 65535"),
        (
            ["--max-files-per-manifest", "0"],
            "--max-files-per-manifest 0 is out of range: it must be an integer from 1 to 10000",
        ),
        (["--max-files-per-manifest", "10001"], "--max-files-per-manifest 10001 is out of range"),
        (["--max-bad-ratio", "1.5"], "--max-bad-ratio 1.5 is out of range: it must be a number from 0 to 1"),
        (["--max-bad-ratio", "nan"], "--max-bad-ratio nan is out of range"),
        (["--timeout", "0"], "--timeout 0.0 is out of range: it must be a number greater than 0"),
        (["--timeout", "-3"], "--timeout -3.0 is out of range"),
        (["--compression", "lzo"], "error[UnsupportedCompression]: --compression 'lzo' is not a codec"),
        (["--compression", "brötli"], "Use --compression with one of: snappy, gzip, zstd"),
        (
            ["--compression-level", "23"],
            "error[InvalidOption]: --compression-level must be a whole number from 1 to 22 for zstd, got '23'",
        ),
        (["--compression", "gzip", "--compression-level", "0"], "from 1 to 9 for gzip, got '0'"),
        (
            ["--compression", "snappy", "--compression-level", "3"],
            "--compression-level 3: snappy takes no level",
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "demo"])
def test_a_bad_option_is_refused_before_anything_starts(
    command: str, args: list[str], expected: str, input_dir: Path, tmp_path: Path
) -> None:
    extra = ["--input", str(input_dir)] if command == "run" else []
    proc, _ = _pipeline(command, *extra, *args, tmp_path=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert expected in " ".join(out.split()), out
    assert "Traceback" not in out
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--size-mb", "-5"], "--size-mb -5 is out of range: it must be a number greater than 0"),
        (["--size-mb", "0"], "--size-mb 0 is out of range"),
        (["--size-mb", "0.1"], "--size-mb 0.1 is out of range for --files 20: it must be at least 0.9"),
    ],
)
def test_a_demo_size_that_would_fail_its_own_bad_line_ratio_is_refused(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    proc, _ = _pipeline("demo", *args, tmp_path=tmp_path)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, out
    assert expected in out
    assert "Traceback" not in out


def test_codec_names_are_case_insensitive_and_reach_terraform_in_lower_case(tmp_path: Path) -> None:
    # What Terraform's case-sensitive validation (contains(supported, var.compression_type)) receives.
    assert check_compression("ZSTD") == "zstd"
    assert check_compression(" Snappy ") == "snappy"
    # Through the CLI: ZSTD passes every option check and the run goes on to its first real step, which fails
    # here on purpose (no Java on PATH) -- not on the codec.
    proc, _ = _pipeline("demo", "--compression", "ZSTD", tmp_path=tmp_path)
    out = proc.stdout + proc.stderr
    assert "UnsupportedCompression" not in out and "InvalidOption" not in out, out
    assert "error[Java" in out, out


def test_every_bound_names_its_option() -> None:
    assert {option for option, *_ in OPTION_BOUNDS.values()} == {
        "--port",
        "--max-files-per-manifest",
        "--max-bad-ratio",
    }


# A batch over --max-bad-ratio (its error, the files, the inspect and retry commands): tests/e2e/test_cli_run_report.py,
# on the one embedded run that module shares.


def test_a_compression_level_reaches_terraform_only_when_given(tmp_path: Path) -> None:
    """The level the job's own check accepts becomes Terraform's compression_level; absent, nothing is passed
    (null: the job's default)."""
    from pipeline.cli.options import RunChoices

    def variables(**choices: object) -> dict[str, object]:
        options = RunChoices(**choices).run_options(tmp_path, duplicate_notification=False)  # type: ignore[arg-type]
        return options.tf_variables()

    assert variables(compression="ZSTD", compression_level=19)["compression_level"] == 19
    assert variables(compression="brotli", compression_level=0)["compression_level"] == 0
    assert "compression_level" not in variables(compression="snappy")
