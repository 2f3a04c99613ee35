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


def _condition(variable: str) -> str:
    body = re.search(rf'^variable "{variable}" \{{\n(.*?)\n\}}\n', VARIABLES_TF.read_text(), re.M | re.S)
    assert body, f"variables.tf has no variable {variable}"
    condition = re.search(r"^    condition\s+= (.+)$", body.group(1), re.M)
    assert condition, f"{variable} has no validation condition"
    return condition.group(1)


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
