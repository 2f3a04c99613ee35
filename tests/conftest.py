"""Fixtures shared by the whole suite.

One local SparkSession per test session (JVM start-up is the slowest thing we do).
Sub-folders add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pipeline.embedded.spark_session import local_spark_session

    session = local_spark_session(app_name="tests", shuffle_partitions=2)
    yield session
    session.stop()
