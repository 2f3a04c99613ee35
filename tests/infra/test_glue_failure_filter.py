"""The glue-job-failed metric filter, matched against Step Functions execution-log events.

moto's filter_log_events does not evaluate JSON filter patterns (it treats `{ ... }` as unsupported), so the
pattern Terraform applied is evaluated here by a small interpreter of the CloudWatch Logs JSON pattern syntax it
uses (`{ ... }`, `$.a.b`, `=`/`!=` on strings, `&&`, `||`, parentheses; a comparison on a missing property does not
match), against events shaped as Step Functions logs them: `{"type": ..., "details": {"error", "cause",
"resource", "resourceType"}, "execution_arn", ...}`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.build import asl

pytestmark = pytest.mark.terraform

_TOKEN = re.compile(r'\s*(\{|\}|\(|\)|&&|\|\||!=|=|\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+|"(?:[^"\\]|\\.)*")')


def _tokens(pattern: str) -> list[str]:
    tokens, position = [], 0
    while position < len(pattern.rstrip()):
        match = _TOKEN.match(pattern, position)
        assert match, f"unsupported filter syntax at {pattern[position:]!r}"
        tokens.append(match.group(1))
        position = match.end()
    return tokens


def matches(pattern: str, event: dict[str, Any]) -> bool:
    """Evaluate a CloudWatch Logs JSON filter pattern (the subset above) on one JSON log event."""
    tokens = _tokens(pattern)
    assert tokens[0] == "{" and tokens[-1] == "}", pattern
    position = 1

    def peek() -> str:
        return tokens[position]

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def comparison() -> bool:
        if peek() == "(":
            take()
            value = disjunction()
            assert take() == ")"
            return value
        selector, operator, literal = take(), take(), json.loads(take())
        node: Any = event
        for part in selector.split(".")[1:]:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return (node == literal) if operator == "=" else (node != literal)

    def conjunction() -> bool:
        value = comparison()
        while peek() == "&&":
            take()
            value = comparison() and value
        return value

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "||":
            take()
            value = conjunction() or value
        return value

    result = disjunction()
    assert take() == "}" and position == len(tokens), pattern
    return result


def _event(event_type: str, resource_type: str, error: str) -> dict[str, Any]:
    return {
        "id": "7",
        "type": event_type,
        "details": {
            "cause": "...",
            "error": error,
            "resource": "startJobRun.sync" if resource_type == "glue" else "invoke",
            "resourceType": resource_type,
        },
        "previous_event_id": "6",
        "event_timestamp": "1764590000000",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:p:m-1",
    }


@pytest.fixture(scope="module")
def pattern(applied_stack) -> str:
    state = json.loads(Path(applied_stack.workdir / "terraform.tfstate").read_text())
    [filter_] = [
        instance["attributes"]
        for resource in state["resources"]
        if resource["type"] == "aws_cloudwatch_log_metric_filter"
        for instance in resource["instances"]
    ]
    return filter_["pattern"]


def _retried_glue_errors() -> set[str]:
    values = {name: 1 for name in asl.placeholders(asl.NDJSON_TO_PARQUET.read_text())}
    definition = asl.load_definition(asl.NDJSON_TO_PARQUET, {**values, "partition": "aws"})
    return {error for retry in definition["States"]["RunGlueJob"]["Retry"] for error in retry["ErrorEquals"]}


def test_a_refused_start_the_state_machine_retries_is_not_a_failure(pattern: str) -> None:
    retried = _retried_glue_errors()
    assert "Glue.ConcurrentRunsExceededException" in retried
    for error in retried:
        assert not matches(pattern, _event("TaskFailed", "glue", error)), error


@pytest.mark.parametrize(
    ("event_type", "error"),
    [
        ("TaskFailed", "States.TaskFailed"),  # the run ended FAILED (.sync)
        ("TaskTimedOut", "States.Timeout"),  # the Task's TimeoutSeconds
        ("TaskStartFailed", "States.Runtime"),
        ("TaskSubmitFailed", "Glue.EntityNotFoundException"),  # a refusal that is never retried: final
        ("TaskFailed", "Glue.AccessDeniedException"),
    ],
)
def test_a_final_glue_failure_counts_once(pattern: str, event_type: str, error: str) -> None:
    assert matches(pattern, _event(event_type, "glue", error))


@pytest.mark.parametrize(
    "event",
    [
        _event("TaskFailed", "lambda", "Lambda.ServiceException"),
        _event("TaskFailed", "dynamodb", "DynamoDB.ConditionalCheckFailedException"),
        _event("TaskSucceeded", "glue", "none"),
        {"id": "9", "type": "ExecutionFailed", "details": {"error": "Pipeline.BatchFailed", "cause": "..."}},
        {"id": "3", "type": "TaskFailed", "details": {"resourceType": "glue"}},  # no error: no match
    ],
)
def test_other_events_do_not_count(pattern: str, event: dict[str, Any]) -> None:
    assert not matches(pattern, event)


def test_a_run_refused_three_times_then_failing_counts_one(pattern: str) -> None:
    history = [_event("TaskFailed", "glue", "Glue.ConcurrentRunsExceededException")] * 3
    history.append(_event("TaskFailed", "glue", "States.TaskFailed"))
    assert sum(matches(pattern, e) for e in history) == 1
