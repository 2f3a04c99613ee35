"""The local SparkSession used by tests, the embedded pipeline and the benchmark (never on AWS Glue)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

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
    jvm_stderr: IO[bytes] | None = None,
) -> SparkSession:
    """A quiet local[N] session configured like the job expects on Glue 5 (UTC, TIMESTAMP_MICROS).

    ``jvm_stderr``: where the JVM (and the Python workers it forks) write their standard error, e.g. a log file;
    only this child process is redirected, never this process's own stderr (another thread may be printing an
    error to the terminal meanwhile)."""
    require_java()
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.master": f"local[{cores}]",
        "spark.app.name": app_name,
        "spark.driver.memory": driver_memory,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # The JVM mostly schedules Python tasks here: C1 alone (no C2 compilation) saves ~4 s of CPU per session
        # start (docs/scaling.md), as the job's own local session does (glue_jobs/run_ndjson_to_parquet.py).
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:TieredStopAtLevel=1",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    }
    if jvm_stderr is not None and SparkContext._active_spark_context is None:
        from pyspark.java_gateway import launch_gateway

        conf = SparkConf().setAll(list(settings.items()))
        SparkContext(conf=conf, gateway=launch_gateway(conf, popen_kwargs={"stderr": jvm_stderr}))
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
