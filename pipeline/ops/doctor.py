"""`pipeline doctor --aws`: read-only checks of an account and region before `terraform apply`.

Each check returns one `Finding` (ok / warn / fail, one sentence, the fix). A check whose API the account (or the
embedded AWS) does not answer says "could not check: <reason>" as a warning instead of failing the command: the
preflight must never be the thing that breaks. Only read calls are made (get/describe/head/list).

What is compared comes from the Terraform variables the apply will use (`--var-file`, HCL or JSON, simple values
only) with the module's defaults for the rest, so the preflight judges the configuration that will be applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.contracts.errors import PipelineError

OK, WARN, FAIL = "ok", "warn", "fail"
LAMBDA_MIN_UNRESERVED = 100  # Lambda keeps this much of the account's concurrency unreserved
GLUE_VERSIONS = ("5.0", "5.1")  # the job's runtime: Spark 3.5, Python 3.11, Java 17
# The module's defaults (terraform/variables.tf) for what the checks compare.
DEFAULTS: dict[str, Any] = {
    "manifest_builder_reserved_concurrency": 5,
    "separate_status_updater": True,
    "status_updater_reserved_concurrency": 5,
    "glue_version": "5.0",
    "kms_key_arn": None,
    "compression_type": "zstd",
    "allow_codec_athena_cannot_read": False,
    "glue_additional_python_modules": None,
    "aws_region": None,
}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str  # ok | warn | fail
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check:<20} {self.message}"
        return f"{text} Fix: {self.fix}" if self.fix else text


def could_not_check(check: str, exc: BaseException) -> Finding:
    reason = _reason(exc)
    return Finding(
        check, WARN, f"could not check: {reason}", "Check it by hand (docs/runbook.md, pipeline doctor)."
    )


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = str(error.get("Message") or "").strip().splitlines()
        text = message[0][:160] if message and not message[0].startswith("<") else "the API is not answered"
        return f"{code}: {text}"
    return f"{type(exc).__name__}: {str(exc)[:160]}"


# --------------------------------------------------------------------------------------------- variables

_SIMPLE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(".*"|true|false|null|-?[0-9.]+)\s*(#.*|//.*)?$')


def read_var_file(path: Path) -> dict[str, Any]:
    """The simple values of a .tfvars (HCL: `name = "text" | number | true | false | null`) or .tfvars.json
    file; lists, maps and heredocs are skipped (no check here needs them)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError.named(
            "VarFileUnreadable",
            f"The variable file {path} cannot be read ({exc.strerror}).",
            "Pass an existing --var-file.",
            2,
        ) from exc
    if path.name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PipelineError.named(
                "VarFileInvalid",
                f"{path} is not valid JSON: {exc}.",
                "Fix the file or pass a .tfvars file.",
                2,
            ) from exc
        return dict(data) if isinstance(data, dict) else {}
    values: dict[str, Any] = {}
    for line in text.splitlines():
        match = _SIMPLE.match(line)
        if match:
            values[match.group(1)] = json.loads(match.group(2))
    return values


def effective_variables(file_values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in file_values.items() if v is not None})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return merged


# --------------------------------------------------------------------------------------------- checks


def check_lambda_concurrency(lambda_client: Any, variables: dict[str, Any]) -> Finding:
    name = "lambda-concurrency"
    needed = int(variables["manifest_builder_reserved_concurrency"])
    if variables["separate_status_updater"]:
        needed += int(variables["status_updater_reserved_concurrency"])
    try:
        limits = lambda_client.get_account_settings()["AccountLimit"]
    except Exception as exc:
        return could_not_check(name, exc)
    unreserved = int(limits["UnreservedConcurrentExecutions"])
    total = int(limits["ConcurrentExecutions"])
    left = unreserved - needed
    detail = (
        f"the stack reserves {needed} of {unreserved} unreserved concurrent executions (account quota {total}); "
        f"{left} would stay unreserved, Lambda keeps at least {LAMBDA_MIN_UNRESERVED}"
    )
    if left >= LAMBDA_MIN_UNRESERVED:
        return Finding(name, OK, detail + ".")
    return Finding(
        name,
        FAIL,
        detail + ": the apply fails with InvalidParameterValueException.",
        "Request a higher 'Concurrent executions' quota (Service Quotas, Lambda, L-B99A9384), or lower "
        "manifest_builder_reserved_concurrency / status_updater_reserved_concurrency (or set "
        "separate_status_updater = false).",
    )


def check_glue(
    glue_client: Any, available_regions: list[str], region: str, variables: dict[str, Any]
) -> Finding:
    """No read-only API lists the Glue versions of a region: Glue must answer in the region (a read call) and
    the version must be one the job is built for; AWS documents Glue 5.0 wherever Glue runs (GovCloud included),
    and `CreateJob` refuses a version the region lacks at apply time."""
    name = "glue-version"
    version = str(variables["glue_version"])
    if version not in GLUE_VERSIONS:
        return Finding(
            name,
            FAIL,
            f"glue_version {version} is not a runtime the job is built for.",
            "Use glue_version 5.0 or 5.1.",
        )
    if available_regions and region not in available_regions:
        return Finding(
            name,
            FAIL,
            f"AWS Glue is not offered in {region} (botocore's endpoint list).",
            "Deploy to a Glue region.",
        )
    try:
        glue_client.get_jobs(MaxResults=1)
    except Exception as exc:
        return could_not_check(name, exc)
    return Finding(
        name,
        OK,
        f"AWS Glue answers in {region}; Glue {version} has no read-only availability API (CreateJob refuses an "
        "unavailable version at apply).",
    )


def check_lake_formation(lf_client: Any) -> Finding:
    name = "lake-formation"
    try:
        settings = lf_client.get_data_lake_settings()["DataLakeSettings"]
    except Exception as exc:
        return could_not_check(name, exc)

    def iam_only(key: str) -> bool:
        return any(
            grant.get("Principal", {}).get("DataLakePrincipalIdentifier") == "IAM_ALLOWED_PRINCIPALS"
            and "ALL" in grant.get("Permissions", [])
            for grant in settings.get(key, [])
        )

    if iam_only("CreateDatabaseDefaultPermissions") and iam_only("CreateTableDefaultPermissions"):
        return Finding(
            name,
            OK,
            "new databases and tables use IAM-only access (IAM_ALLOWED_PRINCIPALS): the stack's IAM suffices.",
        )
    return Finding(
        name,
        FAIL,
        "Lake Formation governs new databases/tables (no IAM_ALLOWED_PRINCIPALS default): the Glue job and the "
        "status updater get AccessDenied on the catalog although their IAM policies allow it.",
        "Either restore 'Use only IAM access control' for new databases and tables (Lake Formation settings), or "
        "grant the Glue job role and the status updater role CREATE_TABLE/ALTER/DESCRIBE on the database and "
        "ALL on its tables after the apply.",
    )


# Service principals that use the stack's key, and why (terraform/modules/kms/main.tf writes the same).
KEY_SERVICE_PRINCIPALS = {
    "logs.{region}.amazonaws.com": "CloudWatch Logs encrypts the stack's log groups",
    "delivery.logs.amazonaws.com": "Step Functions execution logs are delivered to an encrypted log group",
    "cloudwatch.amazonaws.com": "alarms publish to the encrypted SNS topic",
    "s3.amazonaws.com": "S3 event notifications go to the encrypted SQS queue",
    "events.amazonaws.com": "the EventBridge schedules reach encrypted targets",
}


def _principals(statement: dict[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return {"*"}
    found: set[str] = set()
    for key in ("AWS", "Service"):
        value = principal.get(key, []) if isinstance(principal, dict) else []
        found |= {value} if isinstance(value, str) else set(value)
    return found


def check_kms_key(kms_client: Any, key_arn: str | None, region: str, account: str | None) -> Finding:
    name = "kms-key"
    if not key_arn:
        return Finding(name, OK, "no kms_key_arn: the stack creates its own key with the policy it needs.")
    try:
        meta = kms_client.describe_key(KeyId=key_arn)["KeyMetadata"]
        policy = json.loads(kms_client.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    except Exception as exc:
        return could_not_check(name, exc)
    problems: list[str] = []
    if meta.get("KeyState") != "Enabled":
        problems.append(f"the key is {meta.get('KeyState')}")
    # (moto leaves KeyUsage out; AWS always sends it)
    spec, usage = meta.get("KeySpec") or "SYMMETRIC_DEFAULT", meta.get("KeyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        problems.append("the key is not a symmetric ENCRYPT_DECRYPT key")
    allowed: set[str] = set()
    for statement in policy.get("Statement", []):
        if statement.get("Effect") == "Allow":
            allowed |= _principals(statement)
    missing = [
        f"{principal.format(region=region)} ({why})"
        for principal, why in KEY_SERVICE_PRINCIPALS.items()
        if principal.format(region=region) not in allowed and "*" not in allowed
    ]
    if missing:
        problems.append("its policy does not allow " + "; ".join(missing))
    root = f":iam::{account}:root" if account else ":root"
    if not any(p.endswith(root) for p in allowed):
        problems.append(
            "no statement delegates the key to the account's IAM (the stack's roles are granted through IAM)"
        )
    if problems:
        return Finding(
            name,
            FAIL,
            f"the key {key_arn}: " + "; ".join(problems) + ".",
            "Add the missing statements to the key policy (docs/deploy.md, bring your own key; "
            "terraform/modules/kms/main.tf has the statements the stack's own key gets), or leave kms_key_arn unset.",
        )
    return Finding(
        name, OK, f"the key {key_arn} is enabled and its policy allows the stack's services and roles."
    )


def check_codec(variables: dict[str, Any], athena: dict[str, bool]) -> Finding:
    name = "compression"
    codec = str(variables["compression_type"]).lower()
    if codec not in athena:
        return Finding(
            name, FAIL, f"compression_type {codec} is not a codec the Glue job writes.", "Use zstd or snappy."
        )
    if athena[codec] or variables["allow_codec_athena_cannot_read"]:
        note = "" if athena[codec] else " (Athena cannot read it: allowed by allow_codec_athena_cannot_read)"
        return Finding(name, OK if athena[codec] else WARN, f"compression_type {codec}{note}.")
    return Finding(
        name,
        FAIL,
        f"compression_type {codec}: Athena cannot read {codec} Parquet; terraform plan refuses it.",
        "Use zstd or snappy, or set allow_codec_athena_cannot_read = true if Athena never reads the table.",
    )


def check_python_modules(s3_client: Any, wheel_bundle: str | None) -> Finding:
    """The job installs its Python dependencies when it starts: from PyPI (internet egress from Glue's network),
    or from a wheel bundle in S3. Egress cannot be tested from the operator's machine; the bundle can."""
    name = "glue-python-deps"
    if not wheel_bundle:
        return Finding(
            name,
            WARN,
            "PyPI egress required: each Glue run installs the job's Python modules from PyPI, which this machine "
            "cannot verify for Glue's network.",
            "Make sure Glue reaches pypi.org (default Glue networking does; a VPC connection needs a NAT), or "
            "upload a wheel bundle and pass --wheel-bundle s3://...",
        )
    match = re.match(r"^s3://([^/]+)/(.+)$", wheel_bundle)
    if not match:
        return Finding(
            name, FAIL, f"--wheel-bundle {wheel_bundle} is not an s3:// URL.", "Pass s3://bucket/key."
        )
    try:
        head = s3_client.head_object(Bucket=match.group(1), Key=match.group(2))
    except Exception as exc:
        code = _reason(exc)
        if code.startswith(("404", "NoSuchKey", "NotFound", "403")):
            return Finding(
                name,
                FAIL,
                f"the wheel bundle {wheel_bundle} is missing or not readable ({code}).",
                "Upload the bundle to the artifacts bucket before the apply (docs/deploy.md).",
            )
        return could_not_check(name, exc)
    return Finding(name, OK, f"the wheel bundle {wheel_bundle} is present ({head['ContentLength']} bytes).")


# --------------------------------------------------------------------------------------------- running


@dataclass
class DoctorReport:
    region: str
    findings: list[Finding]

    @property
    def failed(self) -> bool:
        return any(f.status == FAIL for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "ok": not self.failed, "checks": [asdict(f) for f in self.findings]}


def run_doctor(aws: Any, variables: dict[str, Any], wheel_bundle: str | None = None) -> DoctorReport:
    """Every check against the account of `aws` (an `AwsSession`); a check that raises becomes a warning."""
    from glue_jobs.ndjson_to_parquet.args import load_codecs

    region = aws.region_name
    account: str | None = None
    try:
        account = str(aws.client("sts", single_attempt=True).get_caller_identity()["Account"])
    except Exception:
        account = None
    try:
        glue_regions = list(aws.session.get_available_regions("glue"))
    except Exception:
        glue_regions = []
    if aws.endpoint_url:
        glue_regions = []  # an emulator answers for any region
    checks: list[tuple[str, Callable[[], Finding]]] = [
        (
            "lambda-concurrency",
            lambda: check_lambda_concurrency(aws.client("lambda", single_attempt=True), variables),
        ),
        (
            "glue-version",
            lambda: check_glue(aws.client("glue", single_attempt=True), glue_regions, region, variables),
        ),
        ("lake-formation", lambda: check_lake_formation(aws.client("lakeformation", single_attempt=True))),
        (
            "kms-key",
            lambda: check_kms_key(
                aws.client("kms", single_attempt=True), variables.get("kms_key_arn"), region, account
            ),
        ),
        ("compression", lambda: check_codec(variables, load_codecs()["athena"])),
        (
            "glue-python-deps",
            lambda: check_python_modules(aws.client("s3", single_attempt=True), wheel_bundle),
        ),
    ]
    findings: list[Finding] = []
    for name, check in checks:
        try:
            findings.append(check())
        except Exception as exc:  # a preflight never crashes on one check
            findings.append(could_not_check(name, exc))
    return DoctorReport(region, findings)
