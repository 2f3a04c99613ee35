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
