"""Fixtures of the reliability suite: one embedded AWS and one small stack (tests/ops/harness.py) per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.embedded.server import EmbeddedAws

from . import faults  # noqa: F401 - installs the fault dispatcher before any handler session exists


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    server = EmbeddedAws()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def iam_denials_fail_the_test() -> Iterator[None]:
    """With the harness's IAM enforced (tests/ops/harness.py), a request the Terraform policies deny during a test
    fails it with `IamAccessDenied` naming the principal, the action and the resource."""
    yield
    from ops.harness import active_stack

    stack = active_stack()
    if stack is not None:
        stack.raise_if_denied()
