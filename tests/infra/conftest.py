"""Fixtures of the infrastructure tests: one embedded AWS with the whole stack applied by Terraform.

The apply costs about a minute (the AWS provider waits for SQS, KMS and S3 lifecycle propagation), so it happens
once for this package; the boto3 checks and the state machine executions all run against that one stack.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Small waits so the retry paths of the state machine run in seconds; everything else is the default.
STACK_VARIABLES: dict[str, Any] = {
    "force_destroy": True,
    "enforce_tls_bucket_policies": False,  # moto applies the conditional TLS Deny to plain-HTTP requests
    "deletion_protection": False,
    "glue_retry_interval_seconds": 1,
    "glue_retry_max_attempts": 3,
    "glue_retry_max_delay_seconds": 2,
    "retry_interval_seconds": 1,
}


@dataclass
class AppliedStack:
    aws: Any  # pipeline.embedded.server.EmbeddedAws
    runner: Any  # pipeline.build.terraform.TerraformRunner
    workdir: Path
    variables: dict[str, Any]
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.aws.client(service)


def _require_terraform() -> None:
    if shutil.which("terraform") is None:
        pytest.fail(
            "terraform is not on PATH: install Terraform >= 1.9 (the infra tests apply the real stack)"
        )


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.build.lambda_zip import build_lambda_zip

    return build_lambda_zip(tmp_path_factory.mktemp("lambda") / "lambda.zip")


class BackgroundCheckov:
    """checkov (installed into its own venv first if absent) scanning terraform/ in a thread, overlapping the apply."""

    def __init__(self) -> None:
        self.report: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="checkov-scan", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pipeline.build import checkov

        try:
            binary = checkov.find_checkov() or checkov.install_checkov()
            self.report = checkov.scan(checkov.TERRAFORM_DIR, binary)
        except BaseException as exc:  # handed to the test
            self.error = exc

    def result(self, timeout: float = 900.0) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("checkov did not finish")
        if self.error is not None:
            raise self.error
        return self.report


@pytest.fixture(scope="package")
def checkov_scan() -> BackgroundCheckov:
    return BackgroundCheckov()


@pytest.fixture(scope="package")
def applied_stack(
    tmp_path_factory: pytest.TempPathFactory, lambda_zip: Path, checkov_scan: BackgroundCheckov
) -> Iterator[AppliedStack]:
    _require_terraform()
    from pipeline.build.terraform import TerraformRunner
    from pipeline.embedded.server import EmbeddedAws

    workdir = tmp_path_factory.mktemp("stack")
    from pipeline.build.glue_artifacts import build_glue_artifacts

    glue = build_glue_artifacts(tmp_path_factory.mktemp("glue"))
    variables = {
        **STACK_VARIABLES,
        "lambda_zip_path": str(lambda_zip),
        "glue_script_path": str(glue.script),
        "glue_package_path": str(glue.package),
    }
    runner = TerraformRunner()
    aws = EmbeddedAws().start()
    aws.reset()  # moto's backends are per process: start from an empty account whatever ran before
    try:
        outputs = runner.apply(aws.endpoint_url, workdir, variables)
        yield AppliedStack(aws=aws, runner=runner, workdir=workdir, variables=variables, outputs=outputs)
    finally:
        aws.reset()
        aws.stop()
