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
