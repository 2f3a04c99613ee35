"""Fixtures shared by the whole suite.

One local SparkSession per test session (JVM start-up is the slowest thing we do).
Sub-folders add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Never let a test reach a real AWS account by accident.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)

TESTS = Path(__file__).resolve().parent
# Packages whose tests share a package-scoped fixture (tests/infra: one applied Terraform stack).
_ONE_GROUP_PACKAGES = {"infra"}


def xdist_group_of(path: Path) -> str:
    """The pytest-xdist group of a test file: its package for the packages in _ONE_GROUP_PACKAGES, else the file."""
    relative = path.resolve().relative_to(TESTS)
    if relative.parts[0] in _ONE_GROUP_PACKAGES:
        return relative.parts[0]
    return relative.as_posix()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) a group runs on one worker: each module's
    module-scoped stack (and tests/infra's package-scoped one) is set up once, as in a single process."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(Path(str(item.path)))))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pipeline.embedded.spark_session import local_spark_session

    session = local_spark_session(app_name="tests", shuffle_partitions=2)
    yield session
    session.stop()
