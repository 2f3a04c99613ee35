"""Fixtures shared by the whole suite.

One local SparkSession per test session (JVM start-up is the slowest thing we do), and a free-port helper.
Sub-folders add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

import os
import socket
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pipeline.spark_session import local_spark_session

    session = local_spark_session(app_name="tests", shuffle_partitions=2)
    yield session
    session.stop()
