"""checkov, the Terraform security scanner, kept in its own virtual environment.

checkov pins its own boto3/botocore (older than the project's), so installing it into the project's environment
would downgrade what moto and the pipeline use. It lives in a separate venv under the user cache instead:

    python -m pipeline.build.checkov install     # once (needs PyPI), about a minute
    python -m pipeline.build.checkov scan        # scans terraform/, exit 1 on any failed check

`find_checkov` also accepts a checkov on PATH or named by ``CHECKOV_BIN``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.build.terraform import TERRAFORM_DIR
from pipeline.contracts.errors import PipelineError

CHECKOV_VERSION = "3.3.30"


class CheckovError(PipelineError):
    error_name = "CheckovFailed"


class CheckovNotInstalled(CheckovError):
    error_name = "CheckovNotInstalled"


@dataclass(frozen=True)
class FailedCheck:
    check_id: str
    name: str
    resource: str
    file: str
    lines: tuple[int, int]

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} ({self.file}:{self.lines[0]}): {self.name}"


@dataclass(frozen=True)
class CheckovReport:
    passed: int
    failed: list[FailedCheck] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (check id, resource, reason)


def cache_venv(version: str = CHECKOV_VERSION) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ndjson-parquet-pipeline" / f"checkov-{version}"


def find_checkov(version: str = CHECKOV_VERSION) -> Path | None:
    """The checkov executable: ``CHECKOV_BIN``, then the cache venv, then PATH; None when absent."""
    explicit = os.environ.get("CHECKOV_BIN")
    if explicit:
        return Path(explicit) if Path(explicit).exists() else None
    cached = cache_venv(version) / "bin" / "checkov"
    if cached.exists():
        return cached
    on_path = shutil.which("checkov")
    return Path(on_path) if on_path else None


def install_checkov(version: str = CHECKOV_VERSION, timeout_seconds: float = 900.0) -> Path:
    """Create the cache venv and install checkov into it (needs access to PyPI)."""
    target = cache_venv(version)
    binary = target / "bin" / "checkov"
    if binary.exists():
        return binary
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    venv.create(partial, with_pip=True, clear=True)
    result = subprocess.run(
        [str(partial / "bin" / "python"), "-m", "pip", "install", "--quiet", f"checkov=={version}"],
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise CheckovNotInstalled(
            f"pip could not install checkov=={version} (exit {result.returncode}):\n{tail}"
        )
    # Entry-point scripts hard-code the venv path: rewrite it before the rename.
    for script in (partial / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            try:
                text = script.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if str(partial) in text:
                script.write_text(text.replace(str(partial), str(target)), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return binary


class RunningScan:
    """A checkov scan running in the background (its JSON report goes to a temporary file)."""

    def __init__(self, directory: Path, binary: Path) -> None:
        self._report = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in result()
        self._errors = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in result()
        self._process = subprocess.Popen(
            [
                str(binary),
                "--directory",
                str(directory),
                "--framework",
                "terraform",
                "--output",
                "json",
                "--compact",
                "--skip-download",
                "--download-external-modules",
                "false",
            ],
            stdout=self._report,
            stderr=self._errors,
            text=True,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        )

    def result(self, timeout_seconds: float = 600.0) -> CheckovReport:
        try:
            code = self._process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired as exc:
            self._process.kill()
            raise CheckovError(f"checkov did not finish within {timeout_seconds:.0f} s") from exc
        self._report.seek(0)
        self._errors.seek(0)
        stdout, stderr = self._report.read(), self._errors.read()
        self._report.close()
        self._errors.close()
        if code not in (0, 1):
            raise CheckovError(f"checkov exited {code}: {stderr.strip()[-2000:]}")
        return _parse(stdout, stderr)


def start_scan(directory: Path = TERRAFORM_DIR, checkov: Path | None = None) -> RunningScan:
    """Start checkov on a Terraform directory (modules included); `RunningScan.result()` waits for the report."""
    binary = checkov or find_checkov()
    if binary is None:
        raise CheckovNotInstalled(
            "checkov is not installed: run `python -m pipeline.build.checkov install` (a separate venv under "
            f"{cache_venv()}) or set CHECKOV_BIN."
        )
    return RunningScan(directory, binary)


def scan(
    directory: Path = TERRAFORM_DIR, checkov: Path | None = None, timeout_seconds: float = 600.0
) -> CheckovReport:
    """Run checkov on a Terraform directory and parse its JSON report."""
    return start_scan(directory, checkov).result(timeout_seconds)


def _parse(stdout: str, stderr: str) -> CheckovReport:
    try:
        parsed = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise CheckovError(f"checkov printed no JSON report: {stdout[:500]!r} {stderr[-1000:]!r}") from exc
    reports = parsed if isinstance(parsed, list) else [parsed]
    passed = 0
    failed: list[FailedCheck] = []
    skipped: list[tuple[str, str, str]] = []
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            lines = check.get("file_line_range") or [0, 0]
            failed.append(
                FailedCheck(
                    check["check_id"],
                    check.get("check_name", ""),
                    check.get("resource", ""),
                    check.get("file_path", ""),
                    (int(lines[0]), int(lines[1])),
                )
            )
        for check in results.get("skipped_checks", []):
            skipped.append(
                (
                    check["check_id"],
                    check.get("resource", ""),
                    (check.get("check_result") or {}).get("suppress_comment", ""),
                )
            )
    return CheckovReport(passed=passed, failed=failed, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "scan"
    if command == "install":
        print(install_checkov())
        return 0
    if command == "scan":
        report = scan(Path(args[1]) if len(args) > 1 else TERRAFORM_DIR)
        for check in report.failed:
            print(f"FAILED {check}")
        for check_id, resource, reason in report.skipped:
            print(f"skipped {check_id} {resource}: {reason}")
        print(f"{report.passed} passed, {len(report.failed)} failed, {len(report.skipped)} skipped")
        return 1 if report.failed else 0
    print("usage: python -m pipeline.build.checkov [install | scan [DIR]]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
