"""Terraform without an apply: formatting, validation, the security scan, variable validations, runner errors."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.build import checkov
from pipeline.build.terraform import (
    AWS_EXAMPLE_DIR,
    EMBEDDED_EXAMPLE_DIR,
    EXAMPLE_DIRS,
    TERRAFORM_DIR,
    TerraformApplyFailed,
    TerraformNotFound,
    TerraformRunner,
)
from pipeline.embedded.server import ACCOUNT_ID

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
    assert not (EMBEDDED_EXAMPLE_DIR / ".terraform").exists()
    assert (tmp_path / "validate" / "tf-data" / "providers").is_dir()


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda path: path.name)
def test_every_example_validates(tmp_path: Path, example: Path) -> None:
    before = _source_fingerprint()
    TerraformRunner(example).validate(tmp_path / "validate")
    assert "Success! The configuration is valid." in (tmp_path / "validate" / "terraform.log").read_text()
    assert _source_fingerprint() == before
    assert not (example / ".terraform").exists()


def _blocks(directory: Path, kind: str) -> set[str]:
    text = "".join(path.read_text() for path in sorted(directory.glob("*.tf")))
    return set(re.findall(rf'^{kind} "(\w+)"', text, re.M))


def _module_arguments(example: Path) -> dict[str, str]:
    text = (example / "main.tf").read_text()
    block = text[text.index('module "pipeline" {') :]
    return dict(re.findall(r"^  (\w+) += (.+)$", block[: block.index("\n}\n")], re.M))


def test_the_module_has_no_provider_block_and_the_examples_configure_it() -> None:
    assert not re.search(r'^provider "', "".join(p.read_text() for p in TERRAFORM_DIR.glob("*.tf")), re.M)
    for example in EXAMPLE_DIRS:
        assert 'provider "aws"' in (example / "providers.tf").read_text(), example
        assert _module_arguments(example)["source"] == '"../.."', example
        assert (example / ".terraform.lock.hcl").is_file(), example


def test_the_embedded_example_passes_every_module_variable_and_re_exports_every_output() -> None:
    module_variables = _blocks(TERRAFORM_DIR, "variable")
    arguments = _module_arguments(EMBEDDED_EXAMPLE_DIR)
    assert {name: arguments.get(name) for name in module_variables} == {
        name: f"var.{name}" for name in module_variables
    }
    assert module_variables <= _blocks(EMBEDDED_EXAMPLE_DIR, "variable")
    assert "aws_endpoint_url" in _blocks(EMBEDDED_EXAMPLE_DIR, "variable")
    # stack.py, the operator commands and the tests read the outputs by the module's names.
    assert _blocks(EMBEDDED_EXAMPLE_DIR, "output") == _blocks(TERRAFORM_DIR, "output")
    assert _blocks(AWS_EXAMPLE_DIR, "output") == _blocks(TERRAFORM_DIR, "output")


def test_the_embedded_provider_has_no_endpoints_block() -> None:
    """An `endpoints {}` block with the stack's 14 services made every provider validation (three per apply) take
    seconds (docs/scaling.md#embedded-terraform-apply): the endpoint comes from AWS_ENDPOINT_URL instead."""
    text = (EMBEDDED_EXAMPLE_DIR / "providers.tf").read_text()
    assert not re.search(r"^\s*endpoints\s*\{", text, re.M)
    assert "AWS_ENDPOINT_URL" in text


def test_the_embedded_provider_reaches_the_emulator_whatever_endpoints_the_caller_s_environment_names(
    tmp_path: Path, applied_stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner hands the endpoint to the provider as AWS_ENDPOINT_URL and drops per-service overrides (they
    would win over it): a stray AWS_ENDPOINT_URL_STS in the caller's environment does not redirect the run."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("providers.tf", "versions.tf", ".terraform.lock.hcl"):
        (config / name).write_bytes((EMBEDDED_EXAMPLE_DIR / name).read_bytes())
    (config / "main.tf").write_text(
        'variable "aws_endpoint_url" {\n  type = string\n}\n\n'
        'variable "aws_region" {\n  type = string\n}\n\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n\n'
        'data "aws_caller_identity" "this" {}\n\n'
        'output "account_id" {\n  value = data.aws_caller_identity.this.account_id\n}\n'
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", UNREACHABLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE)
    outputs = TerraformRunner(config).apply(applied_stack.aws.endpoint_url, tmp_path / "wd", {})
    assert outputs == {"account_id": ACCOUNT_ID}


def test_an_init_run_ahead_is_not_repeated_by_the_apply(tmp_path: Path) -> None:
    """The embedded mode runs `init` while the emulator starts (docs/scaling.md#demo-wall-time); the apply of the
    same work folder then skips its own, and a runner that was not initialised ahead still runs one."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "main.tf").write_text(
        'variable "aws_region" {\n  type = string\n}\n\noutput "region" {\n  value = var.aws_region\n}\n'
    )

    def commands(log: Path) -> list[str]:
        return re.findall(r"^===== terraform (\w+) ", log.read_text(), re.M)

    ahead = TerraformRunner(config, log_file=tmp_path / "ahead.log")
    ahead.init(tmp_path / "ahead")
    assert commands(tmp_path / "ahead.log") == ["init"]
    assert ahead.apply(None, tmp_path / "ahead", {}) == {"region": "us-east-1"}
    assert commands(tmp_path / "ahead.log") == ["init", "apply", "output"]

    plain = TerraformRunner(config, log_file=tmp_path / "plain.log")
    assert plain.apply(None, tmp_path / "plain", {}) == {"region": "us-east-1"}
    assert commands(tmp_path / "plain.log") == ["init", "apply", "output"]


def test_the_aws_example_passes_only_module_variables_from_its_own() -> None:
    module_variables = _blocks(TERRAFORM_DIR, "variable")
    arguments = _module_arguments(AWS_EXAMPLE_DIR)
    arguments.pop("source")
    assert set(arguments) <= module_variables
    assert "lambda_zip_path" in arguments
    assert all(value.startswith("var.") for value in arguments.values()), arguments
    assert {value.removeprefix("var.") for value in arguments.values()} <= _blocks(
        AWS_EXAMPLE_DIR, "variable"
    )


def test_no_arn_is_written_with_a_fixed_partition() -> None:
    """ARNs are built with data.aws_partition (aws-cn and aws-us-gov accounts); only error messages show examples."""
    fixed = [
        f"{path.relative_to(TERRAFORM_DIR)}:{number}: {line.strip()}"
        for path in sorted(TERRAFORM_DIR.rglob("*.tf"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "arn:aws:" in line and not line.strip().startswith(("error_message", "description", "#"))
    ]
    assert fixed == []


def test_every_module_variable_has_a_description_and_every_non_bool_one_a_validation() -> None:
    missing = []
    for path in sorted(TERRAFORM_DIR.glob("modules/**/variables.tf")):
        for name, body in re.findall(r'^variable "(\w+)" \{\n(.*?)\n\}\n', path.read_text(), re.M | re.S):
            if not re.search(r'^  description = ".{10,}"', body, re.M):
                missing.append(f"{path.relative_to(TERRAFORM_DIR)}: {name} has no description")
            if "validation {" not in body and not re.search(r"^  type += bool$", body, re.M):
                missing.append(f"{path.relative_to(TERRAFORM_DIR)}: {name} has no validation")
    assert missing == []


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
                "flush_schedule_expression": "cron(0/5 * * * *)",  # 5 fields: EventBridge needs 6
            },
        )
    message = str(caught.value)
    assert caught.value.error_name == "TerraformApplyFailed"
    assert "end of the Terraform log" in message
    assert "compression_type is not a codec the Glue job supports" in message
    assert "glue_jobs/codecs.json" in message
    assert "log_level must be one of DEBUG, INFO, WARNING, ERROR" in message
    assert "pipeline build-lambda" in message
    assert "flush_schedule_expression must be an EventBridge schedule" in message
    assert (tmp_path / "bad" / "terraform.log").is_file()


def test_bad_table_format_and_maintenance_variables_are_named(tmp_path: Path, applied_stack) -> None:
    # Their own apply: the Terraform log tail the error quotes holds about eight validation errors.
    with pytest.raises(TerraformApplyFailed) as caught:
        TerraformRunner().apply(
            applied_stack.aws.endpoint_url,
            tmp_path / "bad",
            {
                **applied_stack.variables,
                "table_format": "delta",
                "maintenance_schedule_expression": "rate(1 days)",  # EventBridge wants "rate(1 day)"
                "orphan_age_hours": 0,
                "compression_type": "brotli",
                "allow_codec_athena_cannot_read": False,
            },
        )
    message = str(caught.value)
    assert "compression_type is a codec Athena cannot read" in message
    assert "table_format must be iceberg or parquet" in message
    assert "maintenance_schedule_expression must be an EventBridge Scheduler schedule" in message
    assert "orphan_age_hours must be a whole number of hours" in message


def test_missing_terraform_is_named_with_the_fix(tmp_path: Path) -> None:
    runner = TerraformRunner(terraform_bin=str(tmp_path / "no-terraform"))
    with pytest.raises(TerraformNotFound, match=r"Install Terraform >= 1\.9") as caught:
        runner.apply(UNREACHABLE, tmp_path / "wd", {})
    assert caught.value.error_name == "TerraformNotFound"


def test_the_cli_option_bounds_are_terraform_s_variable_validations() -> None:
    """`pipeline demo|run` refuse a batch limit before Terraform starts with the bounds Terraform would apply."""
    from pipeline.embedded.preflight import OPTION_BOUNDS

    text = (TERRAFORM_DIR / "variables.tf").read_text(encoding="utf-8")
    checked = 0
    for option, variable, low, high in OPTION_BOUNDS.values():
        if variable is None:
            continue
        body = re.search(rf'^variable "{variable}" \{{\n(.*?)\n\}}\n', text, re.M | re.S)
        assert body, f"{option}: terraform/variables.tf has no variable {variable}"
        condition = f"var.{variable} >= {low:g} && var.{variable} <= {high:g}"
        assert f"condition     = {condition}" in body.group(1), f"{option}: Terraform's bounds differ"
        checked += 1
    assert checked >= 1
