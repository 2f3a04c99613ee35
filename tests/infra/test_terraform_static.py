"""Terraform without an apply: formatting, validation, the security scan, variable validations, runner errors."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from pipeline.build import checkov
from pipeline.build.terraform import (
    TERRAFORM_DIR,
    TerraformApplyFailed,
    TerraformNotFound,
    TerraformRunner,
)

pytestmark = pytest.mark.terraform

# The runner fails before it reaches this endpoint.
UNREACHABLE = "http://127.0.0.1:9"


def _source_fingerprint() -> dict[str, str]:
    return {
        str(p.relative_to(TERRAFORM_DIR)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(TERRAFORM_DIR.rglob("*"))
        if p.is_file()
    }


def test_terraform_files_are_formatted() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_validates_and_the_runner_leaves_the_source_tree_untouched(tmp_path: Path) -> None:
    before = _source_fingerprint()
    TerraformRunner().validate(tmp_path / "validate")
    assert _source_fingerprint() == before
    assert not (TERRAFORM_DIR / ".terraform").exists()
    assert (tmp_path / "validate" / "tf-data" / "providers").is_dir()


def test_checkov_finds_no_failed_check_and_every_skip_has_a_reason(checkov_scan) -> None:
    try:
        report = checkov_scan.result()
    except checkov.CheckovNotInstalled as exc:
        pytest.skip(
            f"checkov is absent and could not be installed ({exc}); "
            "run `python -m pipeline.build.checkov install`"
        )
    assert [str(f) for f in report.failed] == []
    assert report.passed > 100
    assert all(len(reason) > 20 for _, _, reason in report.skipped), report.skipped


def test_bad_variables_fail_the_apply_with_messages_that_name_them(tmp_path: Path, applied_stack) -> None:
    with pytest.raises(TerraformApplyFailed) as caught:
        TerraformRunner().apply(
            applied_stack.aws.endpoint_url,
            tmp_path / "bad",
            {
                "lambda_zip_path": str(tmp_path / "missing.zip"),
                "glue_script_path": str(tmp_path / "missing.py"),
                "glue_package_path": str(tmp_path / "missing-glue.zip"),
                "compression_type": "lzo",
                "log_level": "TRACE",
                "flush_schedule_expression": "every 5 minutes",
            },
        )
    message = str(caught.value)
    assert caught.value.error_name == "TerraformApplyFailed"
    assert "end of the Terraform log" in message
    assert "compression_type is not a codec the Glue job supports" in message
    assert "glue_jobs/codecs.json" in message
    assert "log_level must be one of DEBUG, INFO, WARNING, ERROR" in message
    assert "pipeline build-lambda" in message
    assert "flush_schedule_expression must be rate(N unit)" in message
    assert (tmp_path / "bad" / "terraform.log").is_file()


def test_missing_terraform_is_named_with_the_fix(tmp_path: Path) -> None:
    runner = TerraformRunner(terraform_bin=str(tmp_path / "no-terraform"))
    with pytest.raises(TerraformNotFound, match=r"Install Terraform >= 1\.9") as caught:
        runner.apply(UNREACHABLE, tmp_path / "wd", {})
    assert caught.value.error_name == "TerraformNotFound"
