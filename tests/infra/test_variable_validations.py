"""Variable validations of terraform/variables.tf evaluated by Terraform itself (``terraform console``, offline).

Each condition is read from variables.tf and evaluated by Terraform's own functions (RE2 regexes, as at plan time),
so these cases check exactly what `terraform plan` accepts, in about a second and without an endpoint.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from pipeline.build.terraform import TERRAFORM_DIR

pytestmark = pytest.mark.terraform

VARIABLES_TF = TERRAFORM_DIR / "variables.tf"

# What EventBridge (rules) and EventBridge Scheduler accept as recurring schedules: rate(value unit) with a singular
# unit for 1 and a plural one above, and cron with exactly six fields, ? in one of day-of-month and day-of-week.
ACCEPTED = [
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(30 days)",
    "rate(10 minutes)",
    "cron(0/5 * * * ? *)",
    "cron(0 3 * * ? *)",
    "cron(15 10 ? * 6L 2026-2030)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * ? * MON-FRI *)",
]
REFUSED = [
    "rate(1 minutes)",
    "rate(2 minute)",
    "rate(1 days)",
    "rate(0 minutes)",
    "rate(05 minutes)",
    "rate(5 seconds)",
    "rate(5minutes)",
    "cron(0/5 * * * *)",  # five fields (Unix cron)
    "cron(0 3 * * ? * *)",  # seven fields
    "cron(0 3 * * * *)",  # no ? in day-of-month or day-of-week
    "cron(0 3 ? * ? *)",  # ? in both
    "cron()",
    "every 5 minutes",
    "rate(5 minutes) ",
]


def _conditions(variable: str) -> list[str]:
    body = re.search(rf'^variable "{variable}" \{{\n(.*?)\n\}}\n', VARIABLES_TF.read_text(), re.M | re.S)
    assert body, f"variables.tf has no variable {variable}"
    conditions = re.findall(r"^    condition\s+= (.+)$", body.group(1), re.M)
    assert conditions, f"{variable} has no validation condition"
    return conditions


def _condition(variable: str) -> str:
    [condition] = _conditions(variable)
    return condition


def _evaluate(condition: str, variable: str, values: list[str], tmp_path: Path) -> dict[str, bool]:
    """{value: condition(value)} computed by `terraform console` in an empty directory (no init, no provider)."""
    expression = condition.replace(f"var.{variable}", "v")
    assert "var." not in expression, f"{variable}: the condition refers to another variable: {condition}"
    program = f"jsonencode({{for v in {json.dumps(values)} : v => {expression}}})\n"
    result = subprocess.run(
        ["terraform", "console"],
        input=program,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


def _verdicts_by_name(
    conditions: list[str], cases: dict[str, tuple[dict[str, object], bool]], cwd: Path
) -> dict[str, bool]:
    """{case name: whether it passes}, for cases named {name: (variables, expected verdict)}."""
    verdicts = _evaluate_cases(conditions, [case for case, _ in cases.values()], cwd)
    return dict(zip(cases, verdicts, strict=True))


@pytest.mark.parametrize("variable", ["flush_schedule_expression", "maintenance_schedule_expression"])
def test_schedule_expressions_are_validated_as_eventbridge_parses_them(variable: str, tmp_path: Path) -> None:
    verdicts = _evaluate(_condition(variable), variable, ACCEPTED + REFUSED, tmp_path)
    assert [v for v in ACCEPTED if not verdicts[v]] == []
    assert [v for v in REFUSED if verdicts[v]] == []


def test_an_empty_maintenance_schedule_turns_maintenance_off(tmp_path: Path) -> None:
    variable = "maintenance_schedule_expression"
    assert _evaluate(_condition(variable), variable, [""], tmp_path) == {"": True}
    flush = "flush_schedule_expression"
    assert _evaluate(_condition(flush), flush, [""], tmp_path) == {"": False}


def _evaluate_cases(conditions: list[str], cases: list[dict[str, object]], cwd: Path) -> list[bool]:
    """Whether each case (variable name -> value) passes every condition, by `terraform console` in ``cwd``."""
    expression = " && ".join(f"({c})" for c in conditions)
    expression = re.sub(r"\bvar\.(\w+)", r"c.\1", expression)
    program = f"jsonencode([for c in {json.dumps(cases)} : {expression}])\n"
    result = subprocess.run(
        ["terraform", "console"],
        input=program,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


def test_reserved_concurrency_leaves_a_status_update_slot_and_lambda_s_unreserved_100(tmp_path: Path) -> None:
    conditions = _conditions("manifest_builder_reserved_concurrency")
    base = {
        "manifest_builder_reserved_concurrency": 5,
        "status_updater_reserved_concurrency": 5,
        "separate_status_updater": True,
        "lambda_concurrent_executions_quota": 1000,
    }
    cases = {
        "default": ({}, True),
        "shared function, 3 reserved": (
            {"separate_status_updater": False, "manifest_builder_reserved_concurrency": 3},
            True,
        ),
        # The mapping would get 1 of 2 slots: below the 2 SQS event source mappings need.
        "shared function, 2 reserved": (
            {"separate_status_updater": False, "manifest_builder_reserved_concurrency": 2},
            False,
        ),
        "separate functions, 2 reserved": ({"manifest_builder_reserved_concurrency": 2}, True),
        # A new account's quota of 10: Lambda keeps 100 unreserved, so nothing can be reserved.
        "quota 10": ({"lambda_concurrent_executions_quota": 10}, False),
        "quota 110, 5 + 5": ({"lambda_concurrent_executions_quota": 110}, True),
        "quota 109, 5 + 5": ({"lambda_concurrent_executions_quota": 109}, False),
        "quota 109, shared function": (
            {"lambda_concurrent_executions_quota": 109, "separate_status_updater": False},
            True,
        ),
    }
    merged = {name: ({**base, **change}, expected) for name, (change, expected) in cases.items()}
    assert _verdicts_by_name(conditions, merged, tmp_path) == {
        name: expected for name, (_, expected) in cases.items()
    }


def test_a_wheel_bundle_must_hold_wheels_and_pyiceberg_for_iceberg(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "no-iceberg").mkdir()
    (tmp_path / "no-iceberg" / "pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"w")
    (tmp_path / "full").mkdir()
    for name in (
        "pyarrow-26.0.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        "pyiceberg-0.12.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    ):
        (tmp_path / "full" / name).write_bytes(b"w")
    cases = {
        "none (PyPI)": ({"glue_wheel_bundle_dir": None, "table_format": "iceberg"}, True),
        "empty folder": ({"glue_wheel_bundle_dir": "empty", "table_format": "parquet"}, False),
        "missing folder": ({"glue_wheel_bundle_dir": "nowhere", "table_format": "parquet"}, False),
        "no pyiceberg, parquet": ({"glue_wheel_bundle_dir": "no-iceberg", "table_format": "parquet"}, True),
        "no pyiceberg, iceberg": ({"glue_wheel_bundle_dir": "no-iceberg", "table_format": "iceberg"}, False),
        "full, iceberg": ({"glue_wheel_bundle_dir": "full", "table_format": "iceberg"}, True),
    }
    assert _verdicts_by_name(_conditions("glue_wheel_bundle_dir"), cases, tmp_path) == {
        name: expected for name, (_, expected) in cases.items()
    }


def test_flex_execution_class_is_refused_on_workers_flex_does_not_run_on(tmp_path: Path) -> None:
    """Glue's Flex class runs G.1X and G.2X workers only (Glue 3.0+, which glue_version already ensures)."""
    cases = {
        "default": ({"glue_execution_class": "STANDARD", "glue_worker_type": "G.1X"}, True),
        "standard, G.8X": ({"glue_execution_class": "STANDARD", "glue_worker_type": "G.8X"}, True),
        "flex, G.1X": ({"glue_execution_class": "FLEX", "glue_worker_type": "G.1X"}, True),
        "flex, G.2X": ({"glue_execution_class": "FLEX", "glue_worker_type": "G.2X"}, True),
        "flex, G.4X": ({"glue_execution_class": "FLEX", "glue_worker_type": "G.4X"}, False),
        "flex, G.8X": ({"glue_execution_class": "FLEX", "glue_worker_type": "G.8X"}, False),
        "lower case": ({"glue_execution_class": "flex", "glue_worker_type": "G.1X"}, False),
        "unknown class": ({"glue_execution_class": "SPOT", "glue_worker_type": "G.1X"}, False),
    }
    assert _verdicts_by_name(_conditions("glue_execution_class"), cases, tmp_path) == {
        name: expected for name, (_, expected) in cases.items()
    }


def test_the_freshness_objective_is_whole_minutes_from_5_to_a_day(tmp_path: Path) -> None:
    values = [5, 15, 60, 1440, 4, 0, -15, 1441, 7.5]
    verdicts = _evaluate(
        _condition("freshness_objective_minutes"), "freshness_objective_minutes", values, tmp_path
    )
    assert {int(float(k)) if float(k).is_integer() else float(k): v for k, v in verdicts.items()} == {
        5: True,
        15: True,
        60: True,
        1440: True,
        4: False,
        0: False,
        -15: False,
        1441: False,
        7.5: False,
    }


def _variable_block(text: str, name: str) -> str:
    start = text.index(f'variable "{name}" {{')
    end = text.index("\n}\n", start) + 3
    return text[start:end]


@pytest.mark.parametrize(
    ("codec", "level", "refused"),
    [
        ("zstd", None, False),
        ("zstd", 19, False),
        ("brotli", 0, False),
        ("zstd", 23, True),
        ("zstd", 2.5, True),
        ("gzip", 10, True),
        ("snappy", 3, True),
    ],
)
def test_compression_level_is_validated_against_codecs_json(tmp_path: Path, codec, level, refused) -> None:
    """The root module's real compression_level validation (copied with the variables it reads into a scratch
    module beside a copy of glue_jobs/codecs.json, so `terraform plan` needs no provider and no stack)."""
    text = (TERRAFORM_DIR / "variables.tf").read_text(encoding="utf-8")
    module = tmp_path / "terraform"
    module.mkdir()
    (tmp_path / "glue_jobs").mkdir()
    (tmp_path / "glue_jobs" / "codecs.json").write_bytes(
        (TERRAFORM_DIR.parent / "glue_jobs" / "codecs.json").read_bytes()
    )
    names = ("compression_type", "compression_level", "allow_codec_athena_cannot_read")
    (module / "variables.tf").write_text("\n".join(_variable_block(text, n) for n in names), encoding="utf-8")
    argv = [
        "terraform",
        f"-chdir={module}",
        "plan",
        "-input=false",
        "-no-color",
        f"-var=compression_type={codec}",
    ]
    argv += ["-var=allow_codec_athena_cannot_read=true"]
    if level is not None:
        argv.append(f"-var=compression_level={level}")
    subprocess.run(
        ["terraform", f"-chdir={module}", "init", "-input=false", "-no-color"],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    out = " ".join((done.stdout + done.stderr).split())
    if refused:
        assert done.returncode != 0, out
        assert (
            "compression_level must be null or a whole number within the range of compression_type" in out
        ), out
    else:
        assert done.returncode == 0, out
