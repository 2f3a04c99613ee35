"""`pipeline doctor --aws` against the embedded AWS (moto server, no Terraform apply): one line per check, exit 1
on a failed check, `--json`, and "could not check" where moto does not answer an API (Lambda GetAccountSettings)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from pipeline.cli.ops import ops_app
from pipeline.embedded.server import EmbeddedAws
from pipeline.ops.doctor import check_lambda_concurrency, effective_variables, read_var_file

REGION = "us-east-1"


@pytest.fixture
def doctor(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch):
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(ops_app, ["doctor", "--aws", *args], catch_exceptions=False)
        return result.exit_code, result.output

    return run


def client(aws: EmbeddedAws, service: str):
    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name=REGION)


def checks(output: str) -> dict[str, dict]:
    return {c["check"]: c for c in json.loads(output)["checks"]}


def test_defaults_on_the_embedded_aws_pass_with_what_moto_cannot_answer_as_could_not_check(doctor) -> None:
    code, output = doctor()
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == f"pipeline doctor --aws: region {REGION}"
    by_name = {line.split()[1]: line for line in lines[1:]}
    assert set(by_name) == {
        "lambda-concurrency",
        "glue-version",
        "lake-formation",
        "kms-key",
        "compression",
        "glue-python-deps",
    }
    # moto 5.2.5 has no Lambda GetAccountSettings: said, not crashed
    assert (
        by_name["lambda-concurrency"].startswith("warn")
        and "could not check: 404" in by_name["lambda-concurrency"]
    )
    assert (
        by_name["lake-formation"].startswith("ok") and "IAM_ALLOWED_PRINCIPALS" in by_name["lake-formation"]
    )
    assert by_name["glue-version"].startswith("ok")
    assert (
        by_name["glue-python-deps"].startswith("warn")
        and "PyPI egress required" in by_name["glue-python-deps"]
    )
    assert by_name["compression"].startswith("ok")


def test_lake_formation_without_iam_only_defaults_fails_with_the_fix(aws, doctor) -> None:
    lf = client(aws, "lakeformation")
    before = lf.get_data_lake_settings()["DataLakeSettings"]
    lf.put_data_lake_settings(
        DataLakeSettings={
            **before,
            "CreateDatabaseDefaultPermissions": [],
            "CreateTableDefaultPermissions": [],
        }
    )
    try:
        code, output = doctor("--json")
    finally:
        lf.put_data_lake_settings(DataLakeSettings=before)
    assert code == 1
    finding = checks(output)["lake-formation"]
    assert finding["status"] == "fail" and "IAM_ALLOWED_PRINCIPALS" in finding["message"]
    assert "grant the Glue job role" in finding["fix"]


def test_a_bring_your_own_key_missing_the_log_delivery_statements_fails(aws, doctor, tmp_path: Path) -> None:
    kms = client(aws, "kms")
    key_arn = kms.create_key(Description=f"doctor-{uuid.uuid4().hex[:8]}")["KeyMetadata"]["Arn"]
    var_file = tmp_path / "terraform.tfvars"
    var_file.write_text(f'name_prefix = "acme"\nkms_key_arn = "{key_arn}"  # ours\n')
    code, output = doctor("--var-file", str(var_file), "--json")
    assert code == 1
    finding = checks(output)["kms-key"]
    assert finding["status"] == "fail"
    assert (
        "delivery.logs.amazonaws.com" in finding["message"]
        and f"logs.{REGION}.amazonaws.com" in finding["message"]
    )

    services = [
        f"logs.{REGION}.amazonaws.com",
        "delivery.logs.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "s3.amazonaws.com",
        "events.amazonaws.com",
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"Service": services},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    code, output = doctor("--var-file", str(var_file), "--json")
    assert checks(output)["kms-key"]["status"] == "ok", output
    assert code == 0


def test_brotli_for_athena_fails_unless_allowed(doctor, tmp_path: Path) -> None:
    var_file = tmp_path / "vars.tfvars.json"
    var_file.write_text(json.dumps({"compression_type": "brotli"}))
    code, output = doctor("--var-file", str(var_file))
    assert code == 1
    [line] = [line for line in output.splitlines() if line.split()[1:2] == ["compression"]]
    assert line.startswith("fail") and "Athena cannot read brotli" in line and "Fix: Use zstd" in line
    var_file.write_text(json.dumps({"compression_type": "brotli", "allow_codec_athena_cannot_read": True}))
    code, output = doctor("--var-file", str(var_file), "--json")
    assert code == 0 and checks(output)["compression"]["status"] == "warn"


def test_the_wheel_bundle_is_looked_for_in_the_artifacts_bucket(aws, doctor) -> None:
    s3 = client(aws, "s3")
    bucket = f"doctor-artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/glue/wheels.zip"
    code, output = doctor("--wheel-bundle", url, "--json")
    assert code == 1 and checks(output)["glue-python-deps"]["status"] == "fail"
    s3.put_object(Bucket=bucket, Key="glue/wheels.zip", Body=b"PK\x05\x06" + b"\0" * 18)
    code, output = doctor("--wheel-bundle", url, "--json")
    assert code == 0 and checks(output)["glue-python-deps"]["status"] == "ok"


class AccountSettings:
    """Lambda's GetAccountSettings answer as AWS documents it (moto does not implement the API)."""

    def __init__(self, unreserved: int, total: int = 1000) -> None:
        self.limits = {"UnreservedConcurrentExecutions": unreserved, "ConcurrentExecutions": total}

    def get_account_settings(self) -> dict:
        return {"AccountLimit": self.limits}


def test_lambda_concurrency_needs_100_unreserved_after_the_stack_s_reservations() -> None:
    variables = effective_variables({}, {})
    assert check_lambda_concurrency(AccountSettings(110), variables).status == "ok"  # 110 - 10 = 100
    low = check_lambda_concurrency(
        AccountSettings(100, total=100), variables
    )  # a quota of 100 leaves no room
    assert low.status == "fail" and "L-B99A9384" in low.fix and "90 would stay unreserved" in low.message
    single = effective_variables({"separate_status_updater": False}, {})
    assert check_lambda_concurrency(AccountSettings(105), single).status == "ok"


def test_var_files_keep_only_simple_values(tmp_path: Path) -> None:
    path = tmp_path / "t.tfvars"
    path.write_text(
        'aws_region = "eu-west-1"\nmanifest_builder_reserved_concurrency = 20\nseparate_status_updater = false\n'
        'accepted_suffixes = [".ndjson"]\n# comment = "x"\n'
    )
    assert read_var_file(path) == {
        "aws_region": "eu-west-1",
        "manifest_builder_reserved_concurrency": 20,
        "separate_status_updater": False,
    }
