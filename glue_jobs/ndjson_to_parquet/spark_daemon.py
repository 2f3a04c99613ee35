"""A plain local run's Python daemon for Spark: pyspark's own (`pyspark.daemon`), which forks the Python workers,
after importing the task modules (pyarrow's JSON, IPC, Parquet and compute modules, the package,
pipeline.contracts). Each forked worker then starts with them imported instead of importing them itself: one
import per run rather than one per worker (docs/scaling.md, 'Third pass').

Only the entry script's plain local session names it (`spark.python.daemon.module`); on Glue and under
spark-submit the workers are started as usual. Run as `python -m ndjson_to_parquet.spark_daemon` by the JVM.
"""

from __future__ import annotations

from . import tasks  # noqa: F401  (imported for the workers the daemon forks)

if __name__ == "__main__":
    from pyspark.daemon import manager

    manager()
