"""The default stack's Glue logging, Python modules and event source mapping, and one plan of the other variant.

The default is read from the applied stack (boto3); the variant (`separate_status_updater = false`, a wheel bundle
instead of PyPI and the Flex execution class) is one `terraform plan -refresh=false` of the same state, read as
Terraform's JSON plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.terraform

JOB = "ndjson-pipeline-ndjson-to-parquet"
LOG_PREFIX = f"/aws-glue/jobs/{JOB}"
PINS = "pyarrow==26.0.1,orjson==3.13.0,pyiceberg[glue]==0.12.0"
WHEELS = [
    "orjson-3.13.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl",
    "pyiceberg-0.12.0-cp311-cp311-manylinux_2_28_x86_64.whl",
]


def test_the_glue_job_logs_to_its_own_encrypted_log_groups_with_the_stack_s_retention(applied_stack) -> None:
    out = applied_stack.outputs
    groups = applied_stack.client("logs").describe_log_groups(logGroupNamePrefix=f"{LOG_PREFIX}/")[
        "logGroups"
    ]
    assert {g["logGroupName"]: (g.get("retentionInDays"), g.get("kmsKeyId")) for g in groups} == {
        f"{LOG_PREFIX}/error": (90, out["kms_key_arn"]),
        f"{LOG_PREFIX}/output": (90, out["kms_key_arn"]),
    }
    assert out["glue_log_group_names"] == {"error": f"{LOG_PREFIX}/error", "output": f"{LOG_PREFIX}/output"}
    job = applied_stack.client("glue").get_job(JobName=out["glue_job_name"])["Job"]
    assert job["ExecutionClass"] == "STANDARD"  # glue_execution_class's default: dedicated capacity
    args = job["DefaultArguments"]
    # Glue 5 logs in real time to <prefix>/error and <prefix>/output; continuous logging is a Glue 4 option.
    assert args["--custom-logGroup-prefix"] == LOG_PREFIX
    assert "--enable-continuous-cloudwatch-log" not in args
    assert args["--additional-python-modules"] == PINS  # from PyPI, no installer option
    assert "--python-modules-installer-option" not in args


def test_the_event_source_mapping_may_use_every_reserved_slot_of_a_builder_of_its_own(applied_stack) -> None:
    mapping = applied_stack.client("lambda").get_event_source_mapping(
        UUID=applied_stack.outputs["event_source_mapping_uuid"]
    )
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == 5  # manifest_builder_reserved_concurrency


def _resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _resources(child)


@pytest.fixture(scope="module")
def variant_plan(applied_stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    bundle = tmp_path_factory.mktemp("wheels")
    for name in WHEELS:
        (bundle / name).write_bytes(
            b"PK\x05\x06" + bytes(18)
        )  # an empty zip: only the names matter to a plan
    plan = applied_stack.runner.plan_json(
        applied_stack.aws.endpoint_url,
        applied_stack.workdir,
        {
            **applied_stack.variables,
            "separate_status_updater": False,
            "glue_wheel_bundle_dir": str(bundle),
            "glue_execution_class": "FLEX",
        },
        refresh=False,
    )
    return {r["address"]: r for r in _resources(plan["planned_values"]["root_module"])}


def test_a_shared_function_keeps_one_reserved_slot_free_of_sqs_pollers(variant_plan) -> None:
    mapping = variant_plan["module.pipeline.module.triggers.aws_lambda_event_source_mapping.ingest"]["values"]
    assert mapping["scaling_config"] == [{"maximum_concurrency": 4}]  # 5 reserved - 1 for the status updates
    assert not any(address.startswith("module.pipeline.module.status_updater[") for address in variant_plan)


def test_a_wheel_bundle_replaces_pypi_with_the_uploaded_wheels_and_no_index(
    variant_plan, applied_stack
) -> None:
    artifacts = applied_stack.outputs["artifacts_bucket"]
    job = variant_plan["module.pipeline.module.glue.aws_glue_job.this"]["values"]
    args = job["default_arguments"]
    assert args["--additional-python-modules"] == ",".join(
        f"s3://{artifacts}/glue/wheels/{w}" for w in WHEELS
    )
    assert args["--python-modules-installer-option"] == "--no-index"
    assert args["--custom-logGroup-prefix"] == LOG_PREFIX
    uploads = {
        r["values"]["key"]: r["values"]
        for address, r in variant_plan.items()
        if address.startswith("module.pipeline.module.glue.aws_s3_object.wheel[")
    }
    assert sorted(uploads) == [f"glue/wheels/{w}" for w in WHEELS]
    assert all(
        u["bucket"] == artifacts and u["server_side_encryption"] == "aws:kms" for u in uploads.values()
    )


def test_the_flex_execution_class_reaches_the_glue_job(variant_plan) -> None:
    job = variant_plan["module.pipeline.module.glue.aws_glue_job.this"]["values"]
    assert (job["execution_class"], job["worker_type"], job["glue_version"]) == ("FLEX", "G.1X", "5.0")
    # Unchanged by the class: Glue itself never reruns (a run whose Flex capacity is reclaimed fails its manifest).
    assert job["max_retries"] == 0
