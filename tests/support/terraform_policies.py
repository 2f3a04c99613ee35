"""The IAM policies Terraform gives each component, rendered for the ops harness (tests/ops/harness.py).

The ops and reliability suites build a small stack with boto3 (`MiniStack`), but its roles must carry the policies
`terraform/` ships, not hand-written copies, so that a permission the code needs and the policy lacks fails a test
(docs/iam.md). This module applies `terraform/examples/embedded` once per table format, in a SUBPROCESS with its own
embedded AWS (moto's backends are process-global: the test process's must stay untouched), with variables that make
Terraform's names the harness's (`VARIABLES`), and writes every role's policies to a JSON file:

    {"table_format": ..., "outputs": {...}, "components": {"function": role, "glue_job": role,
     "state_machine": role, "operator": role}, "roles": {name: {"trust": doc, "inline": {name: doc},
     "attached": [{"name", "arn", "document"}]}}}

`start(table_format)` starts the render in the background (tests/conftest.py calls it when the collected tests
include tests/ops or tests/reliability, so the ~65 s applies overlap other tests); `rendered(table_format)` waits
for the file. Both are safe across pytest-xdist workers: the files live under the run's shared temporary root, and
an `fcntl` lock makes one process start one render per format per run.

Run as a script (`python tests/support/terraform_policies.py --table-format parquet --out FILE`) it is the
subprocess itself.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("parquet", "iceberg")
ACCOUNT = "123456789012"
REGION = "us-east-1"
# Terraform's names become the harness's: name_prefix "ops" (ops-tracking, ops-manifest-builder, ops-ingest, ...),
# the table "events", one function for the manifest builder and the status update (the harness has one), the
# harness's ingest prefix. Everything else keeps the module's defaults.
VARIABLES: dict[str, Any] = {
    "name_prefix": "ops",
    "table_name": "events",
    "separate_status_updater": False,
    "input_prefix": "raw/",
    "force_destroy": True,
    "enforce_tls_bucket_policies": False,
    "deletion_protection": False,
}
# A folder of renders to reuse instead of the run's own (a developer's cache; stale once terraform/ changes).
ENV_ROOT = "PIPELINE_TEST_POLICY_ROOT"
_root: Path | None = None
WAITED: dict[
    str, float
] = {}  # table format -> seconds this process's tests were blocked waiting for its render
RENDER_SECONDS: dict[str, float] = {}


# ------------------------------------------------------------------------------------------ in the test process


def set_root(path: Path) -> None:
    """The folder the renders are cached in: the run's shared temporary root (every xdist worker's parent)."""
    global _root
    _root = Path(path)
    _root.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_ROOT] = str(_root)


def root() -> Path:
    if _root is not None:
        return _root
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT])
    set_root(Path(tempfile.gettempdir()) / f"terraform-policies-{os.getppid()}")
    assert _root is not None
    return _root


def _paths(table_format: str) -> tuple[Path, Path, Path]:
    base = root() / f"policies-{table_format}"
    return base.with_suffix(".json"), base.with_suffix(".error"), base.with_suffix(".log")


def start(table_format: str) -> None:
    """Start the render of `table_format` in the background unless this run has started it already."""
    if table_format not in FORMATS:
        raise ValueError(f"table_format must be one of {FORMATS}")
    done, _, log = _paths(table_format)
    marker = done.with_suffix(".started")
    with (root() / "policies.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists():
                return
            environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [sys.executable, str(Path(__file__)), "--table-format", table_format, "--out", str(done)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    cwd=ROOT,
                    start_new_session=True,
                )
            marker.write_text(str(process.pid), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def rendered(table_format: str, timeout: float = 900.0) -> dict[str, Any]:
    """The render of `table_format` (started now if nobody did), once its subprocess has written it."""
    start(table_format)
    done, error, log = _paths(table_format)
    started = time.monotonic()
    deadline = started + timeout
    while not done.exists():
        if error.exists():
            raise AssertionError(
                f"rendering Terraform's policies ({table_format}) failed: {error.read_text()}\n"
                f"{log.read_text(errors='replace')[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"rendering Terraform's policies ({table_format}) took over {timeout:.0f} s")
        time.sleep(0.5)
    document: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
    WAITED[table_format] = WAITED.get(table_format, 0.0) + time.monotonic() - started
    RENDER_SECONDS[table_format] = float(document.get("seconds", 0.0))
    return document


def summary() -> str:
    """One line for the end of a run: each render's duration and how long tests waited for it."""
    return "; ".join(
        f"{name}: rendered in {RENDER_SECONDS[name]:.0f} s, tests waited {WAITED[name]:.1f} s for it"
        for name in sorted(WAITED)
    )


# ------------------------------------------------------------------------------------------ in the subprocess


def _documents(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def read_roles(iam: Any) -> dict[str, Any]:
    """Every role's trust policy, inline policies and attached (managed) policies, as moto holds them."""
    roles: dict[str, Any] = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            inline = {
                policy: _documents(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
                for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
            }
            attached = []
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
                attached.append(
                    {
                        "name": policy["PolicyName"],
                        "arn": policy["PolicyArn"],
                        "document": _documents(document["PolicyVersion"]["Document"]),
                    }
                )
            roles[name] = {
                "trust": _documents(role["AssumeRolePolicyDocument"]),
                "inline": inline,
                "attached": attached,
            }
    return roles


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def render(table_format: str, workdir: Path) -> dict[str, Any]:
    from pipeline.build.glue_artifacts import build_glue_artifacts
    from pipeline.build.lambda_zip import build_lambda_zip
    from pipeline.build.terraform import TerraformRunner
    from pipeline.embedded.server import EmbeddedAws

    zip_path = build_lambda_zip(workdir / "lambda.zip")
    glue = build_glue_artifacts(workdir / "glue")
    variables = {
        **VARIABLES,
        "table_format": table_format,
        "lambda_zip_path": str(zip_path),
        "glue_script_path": str(glue.script),
        "glue_package_path": str(glue.package),
    }
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    aws = EmbeddedAws().start()
    try:
        outputs = TerraformRunner(log_file=workdir / "terraform.log").apply(
            aws.endpoint_url, workdir / "terraform", variables
        )
        c = aws.client
        function = outputs["manifest_builder_function_name"]
        components = {
            "function": _role_name(c("lambda").get_function_configuration(FunctionName=function)["Role"]),
            "glue_job": _role_name(c("glue").get_job(JobName=outputs["glue_job_name"])["Job"]["Role"]),
            "state_machine": _role_name(
                c("stepfunctions").describe_state_machine(stateMachineArn=outputs["state_machine_arn"])[
                    "roleArn"
                ]
            ),
            "operator": f"{function.removesuffix('-manifest-builder')}-operator",
        }
        return {
            "table_format": table_format,
            "variables": {k: v for k, v in variables.items() if not k.endswith("_path")},
            "outputs": outputs,
            "components": components,
            "roles": read_roles(c("iam")),
        }
    finally:
        aws.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table-format", choices=FORMATS, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    error = args.out.with_suffix(".error")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"policies-{args.table_format}-") as folder:
            document = render(args.table_format, Path(folder))
        document["seconds"] = round(time.monotonic() - started, 1)
        partial = args.out.with_suffix(".partial")
        partial.write_text(json.dumps(document, indent=1, sort_keys=True, default=str), encoding="utf-8")
        partial.replace(args.out)  # atomic: a waiter never reads half a file
    except BaseException as exc:
        error.write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        raise
    print(f"rendered {args.table_format} policies in {document['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
