"""The local SparkSession used by tests, the embedded pipeline and the benchmark (never on AWS Glue)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.contracts.errors import PipelineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class JavaNotFoundError(PipelineError):
    """Java 17 is missing or too old for Spark 3.5."""

    error_name = "JavaNotFound"


def java_major_version() -> int | None:
    """Major version of the `java` Spark will use (JAVA_HOME first, then PATH); None when absent."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    for token in (proc.stderr + proc.stdout).split():
        token = token.strip('"')
        if token and token[0].isdigit():
            head = token.split(".")[0]
            major = int(head) if head.isdigit() else None
            if major == 1:  # 1.8.0_x style
                return int(token.split(".")[1])
            return major
    return None


def require_java(minimum: int = 17) -> None:
    major = java_major_version()
    if major is None:
        raise JavaNotFoundError(
            "Java was not found: Spark needs Java 17. Install it (e.g. `apt-get install openjdk-17-jre-headless`) "
            "or set JAVA_HOME."
        )
    if major < minimum:
        raise JavaNotFoundError(
            f"Java {major} was found but Spark 3.5 (as on AWS Glue 5) needs Java {minimum}: install Java 17 "
            "and point JAVA_HOME at it."
        )


def local_spark_session(
    app_name: str = "ndjson-to-parquet",
    cores: int = 2,
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
) -> SparkSession:
    """A quiet local[N] session configured like the job expects on Glue 5 (UTC, TIMESTAMP_MICROS)."""
    require_java()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
