"""Fixtures of the reliability suite: one embedded AWS and one small stack (tests/ops/harness.py) per module."""

from __future__ import annotations

# The ops suite's fixtures: one embedded AWS per module, and a request the Terraform policies deny fails the test.
from ops.conftest import aws, iam_denials_fail_the_test  # noqa: F401

from . import faults  # noqa: F401 - installs the fault dispatcher before any handler session exists
