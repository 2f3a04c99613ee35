"""Checks run before the embedded pipeline starts: each problem a newcomer meets gets one sentence and the fix.

Every check raises `PipelineError` with a stable `error_name` (exit code 2: nothing was started).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.contracts.errors import PipelineError
from pipeline.contracts.suffixes import has_accepted_suffix
from pipeline.embedded.spark_session import java_major_version

MIN_JAVA = 17
MAX_JAVA = 21  # Spark 3.5 supports Java 8/11/17/21
MIN_TERRAFORM = (1, 5)
# Free space needed besides the input: the lake, the quarantine, staging copies, Spark's scratch and the logs.
BASE_FREE_BYTES = 512 * 1024 * 1024
INPUT_SPACE_FACTOR = 3


@dataclass(frozen=True)
class InputFile:
    path: Path
    key: str  # the path relative to the input folder, '/'-separated: the S3 key it is uploaded under
    size: int


# The bounds of the run options, checked before anything starts. Where Terraform validates the same variable
# (terraform/variables.tf), the bounds are the same: tests/infra/test_terraform_static.py compares this table with
# the variables' validation conditions. name -> (option, Terraform variable or None, lowest, highest).
OPTION_BOUNDS: dict[str, tuple[str, str | None, float, float]] = {
    "port": ("--port", None, 1, 65535),
    "max_files_per_manifest": ("--max-files-per-manifest", "max_files_per_manifest", 1, 10000),
    "max_bad_record_ratio": ("--max-bad-ratio", "max_bad_record_ratio", 0, 1),
}


def check_bounds(name: str, value: float | None) -> None:
    """Refuse a value outside OPTION_BOUNDS[name]: one line naming the option, the value and the range."""
    if value is None:
        return
    option, _variable, low, high = OPTION_BOUNDS[name]
    if not low <= value <= high:  # NaN included
        kind = "an integer" if isinstance(value, int) else "a number"
        raise invalid_option(option, value, f"{kind} from {low:g} to {high:g}")


def check_positive(option: str, value: float) -> None:
    """Refuse a value that is not a number above 0 (NaN included)."""
    if not value > 0:
        raise invalid_option(option, value, "a number greater than 0")


def invalid_option(option: str, value: object, accepted: str, why: str = "") -> PipelineError:
    return PipelineError.named(
        "InvalidOption",
        f"{option} {value} is out of range: it must be {accepted}{why}.",
        f"Pass {option} with {accepted}.",
        exit_code=2,
    )


def check_compression(codec: str | None) -> str | None:
    """The codec's name in lower case (the form Terraform's validation and the job accept), or a refusal of a
    codec the Glue job cannot write before Terraform is even started. One list: glue_jobs/codecs.json, read by
    the job's own load_codecs; names are case-insensitive (ZSTD is zstd) in the CLI and the job."""
    if codec is None:
        return None
    from glue_jobs.ndjson_to_parquet.args import load_codecs

    codecs = load_codecs()
    name = codec.strip().lower()
    if name not in codecs["supported"]:
        why = codecs.get("unsupported", {}).get(name)
        raise PipelineError.named(
            "UnsupportedCompression",
            f"--compression '{codec}' is not a codec the Glue job can write"
            + (f": {why}" if why else "")
            + ".",
            f"Use --compression with one of: {', '.join(codecs['supported'])} (any case).",
            exit_code=2,
        )
    return str(name)


def check_compression_level(codec: str | None, level: int) -> int:
    """`level` if the job accepts it for `codec` (None: Terraform's default, zstd); the same check as the job's
    --COMPRESSION_LEVEL (ranges: glue_jobs/codecs.json "levels"), refused before Terraform starts."""
    from glue_jobs.ndjson_to_parquet.args import check_level
    from glue_jobs.ndjson_to_parquet.errors import JobError

    try:
        check_level(codec or "zstd", str(level))
    except JobError as exc:
        raise PipelineError.named(
            "InvalidOption",
            exc.message.replace("--COMPRESSION_LEVEL", "--compression-level") + ".",
            "Pass --compression-level within the codec's range, or leave it out for the job's default.",
            exit_code=2,
        ) from exc
    return level


def check_java() -> int:
    major = java_major_version()
    if major is None:
        raise PipelineError.named(
            "JavaNotFound",
            "Java was not found, and the Glue job runs on Spark, which needs Java 17.",
            "Install Java 17 (e.g. `sudo apt-get install openjdk-17-jre-headless` or `brew install openjdk@17`) "
            "or set JAVA_HOME to a Java 17 installation.",
            exit_code=2,
        )
    if major < MIN_JAVA:
        raise PipelineError.named(
            "JavaTooOld",
            f"Java {major} was found, but the Glue job needs Java {MIN_JAVA} (as on AWS Glue 5).",
            "Install Java 17 and set JAVA_HOME to it (e.g. `export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64`).",
            exit_code=2,
        )
    if major > MAX_JAVA:
        raise PipelineError.named(
            "JavaTooNew",
            f"Java {major} was found, but Spark 3.5 supports Java up to {MAX_JAVA}.",
            "Install Java 17 and set JAVA_HOME to it.",
            exit_code=2,
        )
    return major


def check_terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        raise PipelineError.named(
            "TerraformNotFound",
            "Terraform was not found on PATH, and the embedded stack is provisioned with it.",
            "Install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) and make sure "
            "`terraform version` works in this shell.",
            exit_code=2,
        )
    try:
        proc = subprocess.run(
            [binary, "version", "-json"], capture_output=True, text=True, timeout=60, check=False
        )
        version = json.loads(proc.stdout).get("terraform_version", "")
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise PipelineError.named(
            "TerraformBroken",
            f"`{binary} version` failed: {exc}.",
            "Reinstall Terraform >= 1.5.",
            exit_code=2,
        ) from exc
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if len(parts) == 2 and parts < MIN_TERRAFORM:
        raise PipelineError.named(
            "TerraformTooOld",
            f"Terraform {version} was found, but the stack needs >= 1.5.",
            "Install a newer Terraform (https://developer.hashicorp.com/terraform/install).",
            exit_code=2,
        )
    return version


def check_port(port: int, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PipelineError.named(
                "PortInUse",
                f"Port {port} on {host} is already in use, so the embedded AWS cannot listen there.",
                f"Stop what uses it (`lsof -i :{port}`), or choose another port with --port (or leave --port out "
                "to use a free one).",
                exit_code=2,
            ) from exc


# Why `scan_inputs` leaves a file out (what the run prints before the upload).
SKIPPED_SUFFIX = "not .ndjson, .jsonl or .json, optionally .gz"
SKIPPED_HIDDEN = "hidden: its name or a folder's starts with '.'"


@dataclass(frozen=True)
class InputScan:
    """What `pipeline run` uploads (`files`, with their S3 keys) and what it leaves out (`skipped`: the path below
    the input folder and why)."""

    folder: Path
    files: list[InputFile]
    skipped: list[tuple[str, str]]

    def undated(self, prefix: str = "") -> list[InputFile]:
        """The files whose key (under `prefix`, the input bucket's) has no date folder: they land in the
        partition of the day they are uploaded (docs/analysts.md#partitions)."""
        return [f for f in self.files if key_date(prefix + f.key) is None]


def key_date(key: str) -> str | None:
    """The partition date an object key names (`YYYY-MM-DD/`, `dt=YYYY-MM-DD/`, `year=/month=/day=`), or None
    when the manifest builder would fall back to the upload day: the builder's own rule, asked with two
    different fallbacks (a key that names its date answers the same to both)."""
    from datetime import UTC, datetime

    from pipeline.control_plane.domain.keys import extract_date_prefix

    first = extract_date_prefix(key, datetime(2000, 1, 1, tzinfo=UTC))
    second = extract_date_prefix(key, datetime(2001, 1, 1, tzinfo=UTC))
    return first if first == second else None


def scan_input(folder: Path) -> list[InputFile]:
    """The NDJSON files under `folder` (recursively), with their S3 keys; refuses a missing or empty folder."""
    return scan_inputs(folder).files


def scan_inputs(folder: Path) -> InputScan:
    """`scan_input`, with the files it leaves out and why."""
    if not folder.exists():
        raise PipelineError.named(
            "InputNotFound",
            f"The input folder {folder} does not exist.",
            "Pass an existing folder of .ndjson/.jsonl/.json (optionally .gz) files with --input.",
            exit_code=2,
        )
    if not folder.is_dir():
        raise PipelineError.named(
            "InputNotADirectory",
            f"{folder} is a file, not a folder.",
            "Pass the folder that holds the files with --input (keys keep their layout below it).",
            exit_code=2,
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PipelineError.named(
            "InputUnreadable",
            f"The input folder {folder} cannot be read by this user.",
            f"Grant read access (e.g. `chmod -R u+rX {folder}`) or copy the files elsewhere.",
            exit_code=2,
        )
    folder = (
        folder.resolve()
    )  # the names the run prints (skipped files, the files of a failed batch) are absolute
    files: list[InputFile] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file():
            continue
        if any(part.startswith(".") for part in relative.parts):
            skipped.append((relative.as_posix(), SKIPPED_HIDDEN))
            continue
        if not has_accepted_suffix(path.name):
            skipped.append((relative.as_posix(), SKIPPED_SUFFIX))
            continue
        if not os.access(path, os.R_OK):
            raise PipelineError.named(
                "InputUnreadable",
                f"The input file {path} cannot be read by this user.",
                f"Grant read access (`chmod u+r '{path}'`) or remove it from the folder.",
                exit_code=2,
            )
        files.append(InputFile(path=path, key=relative.as_posix(), size=path.stat().st_size))
    if not files:
        others = sum(1 for _, why in skipped if why == SKIPPED_SUFFIX)
        detail = f" ({others} other files were ignored)" if others else ""
        raise PipelineError.named(
            "InputEmpty",
            f"The input folder {folder} holds no .ndjson, .jsonl or .json files{detail}.",
            "Put newline-delimited JSON files (optionally gzipped, .gz) in it, or run `pipeline demo` to see "
            "the pipeline on generated data.",
            exit_code=2,
        )
    return InputScan(folder=folder, files=files, skipped=skipped)


def check_disk(workdir: Path, needed_input_bytes: int) -> int:
    """Free bytes where the work folder lives; refuses when the run would not fit."""
    probe = workdir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = BASE_FREE_BYTES + INPUT_SPACE_FACTOR * needed_input_bytes
    if free < needed:
        raise PipelineError.named(
            "DiskFull",
            f"Only {free / 2**20:.0f} MiB are free under {probe}, and this run needs about "
            f"{needed / 2**20:.0f} MiB (lake, staging copies, Spark scratch space).",
            "Free some space, or choose a work folder on a larger disk with --workdir.",
            exit_code=2,
        )
    return free


def check_workdir(workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(workdir) from exc
        raise PipelineError.named(
            "WorkdirUnwritable",
            f"The work folder {workdir} cannot be written: {exc.strerror}.",
            "Choose a writable folder with --workdir.",
            exit_code=2,
        ) from exc


def disk_full_error(where: Path) -> PipelineError:
    return PipelineError.named(
        "DiskFull",
        f"The disk holding {where} is full.",
        "Free some space, or choose a work folder on a larger disk with --workdir.",
    )
