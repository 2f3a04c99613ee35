"""Fixtures of the operator-command tests: the embedded AWS (one per test module, moto's backends are per process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.embedded.server import EmbeddedAws


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    server = EmbeddedAws()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_aws(aws: EmbeddedAws) -> EmbeddedAws:
    aws.reset()
    return aws


@pytest.fixture(autouse=True)
def iam_denials_fail_the_test() -> Iterator[None]:
    """With the harness's IAM enforced (tests/ops/harness.py), a request the Terraform policies deny during a test
    fails it with `IamAccessDenied` naming the principal, the action and the resource."""
    yield
    from ops.harness import active_stack

    stack = active_stack()
    if stack is not None:
        stack.raise_if_denied()
