"""The script as Glue, `python` and `spark-submit` run it (each JVM start costs seconds: kept to a minimum)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "glue_jobs" / "run_ndjson_to_parquet.py"
SAMPLES = ROOT / "glue_jobs" / "samples" / "manifest.json"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYTHONPATH"] = ""  # the script must not need the repository on the path
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=env or _env(), timeout=300, check=False
    )


@pytest.mark.spark
def test_python_script_converts_the_bundled_sample(tmp_path):
    """...and its terminal shows the report, not Spark's start-up WARN lines (the loopback hostname,
    NativeCodeLoader) nor its "Setting default log level" note; its stdout is the report alone. The first run in
    a temporary directory leaves the JVM's class archive there for the next runs, under its final name only."""
    out = tmp_path / "out"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in _env().items() if k != "SPARK_LOCAL_IP"}  # as on a laptop: nothing set
    env["TMPDIR"] = str(temp)
    proc = _run(
        [
            sys.executable,
            str(SCRIPT),
            "--JOB_NAME",
            "local",
            "--MANIFEST_PATH",
            str(SAMPLES),
            "--OUTPUT_PATH",
            str(out),
            "--COMPRESSION_TYPE",
            "zstd",
            "--SOME_GLUE_ARG",
            "ignored",
        ],
        tmp_path,
        env,
    )
    assert proc.returncode == 0, proc.stderr
    for noise in ("WARN", "NativeCodeLoader", "loopback address", "Setting default log level", "setLogLevel"):
        assert noise not in proc.stderr, proc.stderr
    [line] = proc.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["status"] == "succeeded" and report["records_in"] == 454 and report["records_out"] == 450
    assert report["files_skipped"] == ["events-0004-late.ndjson"]
    assert len(list((out / "dt=2026-11-22").glob("2026-11-22-000001-sample01.part-*.parquet"))) == 1
    [archive] = temp.glob("ndjson_to_parquet-classes-*")
    assert archive.suffix == ".jsa" and archive.stat().st_size > 1_000_000


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--JOB_NAME", "x", "--MANIFEST_PATH", "m.json", "--OUTPUT_PATH", "o"], "MissingArgument: "),
        (
            [
                "--JOB_NAME",
                "x",
                "--MANIFEST_PATH",
                "m.json",
                "--OUTPUT_PATH",
                "o",
                "--COMPRESSION_TYPE",
                "lzo",
            ],
            "UnsupportedCompression: ",
        ),
        (
            [
                "--JOB_NAME",
                "x",
                "--MANIFEST_PATH",
                "m.json",
                "--OUTPUT_PATH",
                "o",
                "--COMPRESSION_TYPE",
                "zstd",
                "--COMPRESSION_LEVEL",
                "30",
            ],
            "InvalidCompressionLevel: --COMPRESSION_LEVEL must be",
        ),
    ],
)
def test_python_script_argument_errors_exit_non_zero_without_starting_spark(tmp_path, argv, error):
    proc = _run([sys.executable, str(SCRIPT), *argv], tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    [line] = proc.stderr.strip().splitlines()  # one line, no JVM noise: Spark was never started
    assert line.startswith(error) and len(line) > len(error) + 20


def test_python_script_manifest_errors_are_reported_before_spark_starts(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            {
                "manifest_id": "m-1",
                "date_prefix": "2026-11-22",
                "entries": [{"url": "missing.ndjson", "mandatory": True}],
            }
        )
    )
    proc = _run(
        [
            sys.executable,
            str(SCRIPT),
            "--JOB_NAME",
            "x",
            "--MANIFEST_PATH",
            str(manifest),
            "--OUTPUT_PATH",
            str(tmp_path / "o"),
            "--COMPRESSION_TYPE",
            "snappy",
        ],
        tmp_path,
    )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()  # no JVM output: Spark was never started
    assert line.startswith("ManifestEntryMissing: mandatory file(s) not found") and "missing.ndjson" in line


@pytest.mark.spark
def test_spark_submit_runs_the_same_script(tmp_path):
    spark_submit = Path(sys.executable).parent / "spark-submit"
    if not spark_submit.exists():
        pytest.skip("spark-submit is not installed next to this Python (pyspark wheel scripts missing)")
    out = tmp_path / "out"
    proc = _run(
        [
            str(spark_submit),
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            str(SCRIPT),
            "--JOB_NAME",
            "submit",
            "--MANIFEST_PATH",
            str(SAMPLES),
            "--OUTPUT_PATH",
            str(out),
            "--COMPRESSION_TYPE",
            "brotli",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["codec"] == "brotli" and report["records_out"] == 450


def _documented_arguments() -> dict[str, tuple[bool, str]]:
    """docs/glue-job.md's argument table: name -> (required, default)."""
    text = (ROOT / "docs" / "glue-job.md").read_text(encoding="utf-8")
    section = text.split("## Arguments", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`--"):
            rows[cells[0].strip("`").removeprefix("--")] = (cells[1] == "yes", cells[2].strip("`"))
    return rows


def test_help_lists_every_argument_with_its_meaning_and_default(tmp_path):
    """`--help` (no Spark, no JVM) lists every argument the job reads, each with its meaning and its default, from
    the job's one argument table, which docs/glue-job.md's table repeats row for row."""
    from glue_jobs.ndjson_to_parquet.args import ARGUMENTS, OPTIONAL_ARGS, REQUIRED_ARGS

    proc = _run([sys.executable, str(SCRIPT), "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout.split("Arguments (", 1)[1]
    entries = {}  # --NAME -> its text, continuation lines joined
    for line in listing.splitlines()[1:]:
        if line.startswith("  --"):
            name, _, text = line.strip().partition(" ")
            entries[name.removeprefix("--")] = text.strip()
        elif line.strip():
            last = list(entries)[-1]
            entries[last] += " " + line.strip()
    documented = _documented_arguments()
    assert set(entries) == set(documented) == set(REQUIRED_ARGS) | set(OPTIONAL_ARGS)
    for name, (required, default) in documented.items():
        text = entries[name]
        assert text.endswith("]") and ("[required" in text) == required, (name, text)
        if default:
            assert f"default: {default}]" in text, (name, text)
    for arg in ARGUMENTS:
        assert arg.meaning.split(";")[0] in entries[arg.name]
        assert documented[arg.name] == (arg.required, arg.default)


def test_on_glue_the_reserved_job_run_id_is_not_asked_for_and_missing_arguments_are_named(tmp_path):
    """The Glue branch of the entry script with a fake of awsglue's argument parsing (tests/glue/fake_awsglue):
    Glue passes --JOB_RUN_ID itself and refuses it in getResolvedOptions' names (RuntimeError); a missing
    argument is GlueArgumentError, reported as MissingArgument (not an InternalError)."""
    env = {**_env(), "PYTHONPATH": str(Path(__file__).parent / "fake_awsglue")}
    lake = tmp_path / "lake"
    lake.mkdir()
    argv = [sys.executable, str(SCRIPT), "--JOB_NAME", "j", "--MODE", "maintain", "--OUTPUT_PATH", str(lake)]
    argv += ["--COMPRESSION_TYPE", "zstd", "--TABLE_FORMAT", "iceberg", "--JOB_RUN_ID", "jr_1"]
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False
    )
    assert proc.returncode != 0
    assert "TableNotFound" in proc.stderr and "RuntimeError" not in proc.stderr, proc.stderr[-2000:]
    missing = subprocess.run(
        [a for a in argv if a not in ("--COMPRESSION_TYPE", "zstd")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert missing.returncode != 0, missing.stderr[-2000:]
    # the named line first; on Glue the JobError is then raised so that the run's error message is the same
    assert missing.stderr.startswith("MissingArgument: ") and "COMPRESSION_TYPE" in missing.stderr
    assert "MissingArgument" in missing.stderr.strip().splitlines()[-1]
