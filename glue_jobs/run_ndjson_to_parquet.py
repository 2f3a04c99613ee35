r"""NDJSON -> Parquet: the AWS Glue 5 job's entry script, also runnable with `python` and `spark-submit`.

    python glue_jobs/run_ndjson_to_parquet.py --JOB_NAME local --MANIFEST_PATH m.json --OUTPUT_PATH out/ \
        --COMPRESSION_TYPE zstd [--BAD_RECORDS_PATH dir] [--MAX_BAD_RECORD_RATIO 0.05] [--TARGET_FILE_MB 128] \
        [--SCHEMA_PATH schema.json] [--MANIFEST_ID id]
    python glue_jobs/run_ndjson_to_parquet.py --JOB_NAME local --MODE maintain --TABLE_FORMAT iceberg \
        --OUTPUT_PATH out/ --COMPRESSION_TYPE zstd [--MAINTAIN_DATE D] [--SNAPSHOT_RETENTION_HOURS 168] \
        [--ORPHAN_AGE_HOURS 72] [--TARGET_FILE_MB 128]      (table maintenance: no manifest, no Spark)

Prints the job report as one JSON line, or `ErrorName: sentence` on stderr (exit 1). See docs/glue-job.md.

Thin on purpose: the job is the `ndjson_to_parquet` package. On Glue this script is the ScriptLocation and the
package (with `pipeline/contracts`) comes from the --extra-py-files zip, which Glue also puts on every
executor's path. From a checkout, the package sits beside this script and the repository root is put first on
sys.path (so the checkout's own `pipeline.contracts` is used); the local SparkSession hands the same paths to
its Python workers (spark.executorEnv.PYTHONPATH), because Spark pickles the task functions by reference.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

_HERE = Path(__file__).resolve().parent
if (_HERE / "ndjson_to_parquet" / "__init__.py").is_file():  # a checkout (on Glue the package is in the zip)
    for _entry in (str(_HERE), str(_HERE.parent)):
        if _entry in sys.path:
            sys.path.remove(_entry)
        sys.path.insert(0, _entry)

if TYPE_CHECKING:  # mypy sees the package where it sits in the repository; run time sees the top-level module
    from glue_jobs import ndjson_to_parquet
    from glue_jobs.ndjson_to_parquet import JobError, parse_job_args, preflight, run_job
    from glue_jobs.ndjson_to_parquet.args import OPTIONAL_ARGS, REQUIRED_ARGS, help_text
    from glue_jobs.ndjson_to_parquet.maintenance import run_maintenance
else:  # `ndjson_to_parquet`: from the path set-up above, or at the root of the Glue --extra-py-files zip
    import ndjson_to_parquet
    from ndjson_to_parquet import JobError, parse_job_args, preflight, run_job
    from ndjson_to_parquet.args import OPTIONAL_ARGS, REQUIRED_ARGS, help_text
    from ndjson_to_parquet.maintenance import run_maintenance


def _worker_python_path() -> str:
    """Where this process found the job package and `pipeline`, for the Spark workers (then the inherited path)."""
    import pipeline

    entries = [
        str(Path(ndjson_to_parquet.__file__).resolve().parent.parent),
        str(Path(pipeline.__file__).resolve().parent.parent),
        *[entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry],
    ]
    return os.pathsep.join(dict.fromkeys(entries))


# A plain local run's log4j2 set-up, read by the JVM from its first line on: warnings and errors on stderr as Spark's
# own default does (so Spark does not print its "Setting default log level" note), without the start-up warning
# every laptop gets (NativeCodeLoader: no native Hadoop library); SPARK_LOCAL_IP below avoids the other one (a
# hostname resolving to a loopback address). The session lowers it to errors once started (setLogLevel); the job's
# own errors are its `ErrorName: sentence` line, printed by main() whatever the log level.
_LOCAL_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
"""


def _local_log4j2_file() -> Path:
    import hashlib
    import tempfile

    digest = hashlib.sha256(_LOCAL_LOG4J2.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"ndjson_to_parquet-log4j2-{digest}.properties"
    if not path.is_file():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(_LOCAL_LOG4J2, encoding="utf-8")
        partial.replace(path)
    return path


@dataclass(frozen=True)
class _ClassArchive:
    """A plain local run's class-data sharing archive (AppCDS, Java 17's dynamic archive): the JVM maps the
    classes Spark loads at start from it instead of reading and verifying them from the jars, about half of the
    JVM's start-up CPU (docs/scaling.md, 'Third pass'). Keyed by the JVM options, pyspark's jars and the `java`
    found, in the temporary directory. The first run writes it when its JVM exits (into a file of its own, then
    renamed: concurrent first runs never share a half-written archive); a stale or damaged archive is ignored
    by the JVM (-Xshare:auto), a missing one only costs the slower start."""

    path: Path
    writing: Path | None  # this run's JVM dumps the archive here at its exit, then `publish` renames it

    @classmethod
    def for_jvm(cls, java_options: str) -> _ClassArchive:
        import hashlib
        import shutil
        import tempfile

        import pyspark

        jars = Path(pyspark.__file__).resolve().parent / "jars"
        java_home = os.environ.get("JAVA_HOME")
        java = Path(java_home, "bin", "java") if java_home else Path(shutil.which("java") or "java")
        key = [java_options, pyspark.__version__, str(jars)]
        for found in (jars, java.resolve()):
            key.append(f"{found}:{found.stat().st_mtime_ns if found.exists() else 0}")
        digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"ndjson_to_parquet-classes-{digest}.jsa"
        if path.is_file():
            return cls(path, None)
        return cls(path, path.with_suffix(f".{os.getpid()}.partial"))

    def java_options(self) -> str:
        if self.writing is not None:
            return f" -XX:ArchiveClassesAtExit={self.writing}"
        return f" -XX:SharedArchiveFile={self.path}"

    def publish(self) -> None:
        """After the JVM exited: the dumped archive under its name (nothing when the dump did not happen)."""
        if self.writing is None:
            return
        try:
            if self.writing.is_file() and self.writing.stat().st_size > 0:
                self.writing.replace(self.path)
        except OSError:
            pass  # the next run writes one
        finally:
            self.writing.unlink(missing_ok=True)


def _local_session(whole_process: bool = False) -> tuple[Any, Callable[[], None]]:
    """The session, and what ends it once the job is done. `whole_process`: this process is the run (the script
    itself, not a caller of main()), so its JVM ends with it: then the class archive and no spark.stop()."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ndjson_to_parquet")
    archive: _ClassArchive | None = None
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # plain `python`: not launched by spark-submit
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Local mode binds to this host: without it Spark warns that the hostname resolves to a loopback address.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        java_options = f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{_local_log4j2_file()}"
        # The JVM only schedules the Python tasks here (they parse and write): C1 alone, no C2 compilation, saves
        # about 4 s of CPU per run out of the ~12 s a run costs outside its tasks (docs/scaling.md). The JVM's own
        # warnings go to stderr: its stdout is this process's, where the report is the one JSON line.
        java_options += " -XX:TieredStopAtLevel=1 -Xlog:disable -Xlog:all=warning,cds*=off:stderr"
        archive = _ClassArchive.for_jvm(java_options) if whole_process else None
        builder = (
            builder.master("local[*]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # The Python workers are forked with the task modules already imported (spark_daemon.py).
            .config("spark.python.daemon.module", f"{ndjson_to_parquet.__name__}.spark_daemon")
            .config(
                "spark.driver.extraJavaOptions", java_options + (archive.java_options() if archive else "")
            )
        )
    builder = (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.executorEnv.PYTHONPATH", _worker_python_path())
    )
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise JobError(
            "SparkUnavailable",
            f"could not start Spark ({type(exc).__name__}: {exc}); Spark 3.5 "
            "needs Java 17 on PATH or JAVA_HOME",
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    if archive is None:  # spark-submit's JVM, or a caller's process that lives on: stopped the usual way
        return session, session.stop
    return session, lambda: _end_local_jvm(session, archive)


def _end_local_jvm(session: Any, archive: _ClassArchive) -> None:
    """The end of a plain local run. Usually nothing: when this process exits, the JVM sees the end of its stdin
    and exits, its shutdown hook stopping the SparkContext (temporary folders, Python workers), which is what
    `spark.stop()` would do, minus the up to 1 s pyspark's accumulator server takes to notice a stop (its
    1 s poll). A run writing the class archive stops the JVM and waits for its exit (the dump), then renames it."""
    if archive.writing is None:
        return
    from pyspark import SparkContext

    session.stop()
    process = getattr(SparkContext._gateway, "proc", None)
    if process is not None and process.stdin is not None:
        process.stdin.close()
        try:
            process.wait(timeout=120)
        except Exception:  # subprocess.TimeoutExpired: no archive this time (the next run writes one)
            if archive.writing is not None:
                archive.writing.unlink(missing_ok=True)
            return
    archive.publish()


def _maintain_mode(argv: list[str]) -> bool:
    """`--MODE maintain` (or `--MODE=maintain`) among the arguments: then no manifest is needed."""
    for index, arg in enumerate(argv):
        if arg.startswith("--MODE="):
            return arg.split("=", 1)[1].strip().lower() == "maintain"
        if arg == "--MODE" and index + 1 < len(argv):
            return argv[index + 1].strip().lower() == "maintain"
    return False


def _print_report(report: dict[str, Any]) -> None:
    print(json.dumps(report, separators=(",", ":"), default=str), flush=True)


def main(argv: list[str] | None = None, whole_process: bool = False) -> int:
    """Script entry point: prints the report as one JSON line, or `ErrorName: sentence` on stderr.
    `whole_process` (set when run as the script): the process ends after it (see _local_session)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        print(help_text())
        return 0
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from awsglue.utils import getResolvedOptions
    except ImportError:
        GlueContext = None
    try:
        maintain = _maintain_mode(argv)
        if GlueContext is not None:  # on AWS Glue
            required = [n for n in REQUIRED_ARGS if not (maintain and n == "MANIFEST_PATH")]
            # JOB_RUN_ID is one of Glue's reserved names: passing it raises RuntimeError; Glue returns it anyway.
            names = required + [n for n in OPTIONAL_ARGS if f"--{n}" in argv and n != "JOB_RUN_ID"]
            try:
                resolved = getResolvedOptions(["script", *argv], names)
            except Exception as exc:  # GlueArgumentError (argparse's error() raises it, not SystemExit)
                raise JobError("MissingArgument", f"Glue arguments could not be resolved: {exc}") from exc
            tokens = [token for name in names for token in (f"--{name}", resolved[name])]
            if resolved.get("JOB_RUN_ID"):
                tokens += ["--JOB_RUN_ID", str(resolved["JOB_RUN_ID"])]
            args = parse_job_args(tokens)
            if args.mode == "maintain":  # the driver alone: pyiceberg and pyarrow, no Spark work
                _print_report(run_maintenance(args))
                return 0
            from pyspark.context import SparkContext

            glue_context = GlueContext(SparkContext.getOrCreate())
            spark = glue_context.spark_session
            spark.conf.set("spark.sql.session.timeZone", "UTC")
            job = Job(glue_context)
            job.init(args.job_name, resolved)
            report = run_job(spark, args)
            _print_report(report)
            job.commit()
            return 0
        args = parse_job_args(argv)
        if args.mode == "maintain":
            _print_report(run_maintenance(args))
            return 0
        preflight(args)
        spark, end_session = _local_session(whole_process)
        try:
            report = run_job(spark, args)
        finally:
            end_session()
        _print_report(report)
        return 0
    except JobError as exc:
        print(f"{exc.error_name}: {exc.message}", file=sys.stderr, flush=True)
        if GlueContext is not None:
            raise  # the Glue job run fails with "ErrorName: sentence" as its error message
        return 1
    except Exception as exc:  # a bug or an environment problem: keep the traceback, end with the one-liner
        traceback.print_exc()
        print(
            f"InternalError: {type(exc).__name__}: {exc}; this is a bug or an environment problem, please "
            "report it with the traceback above",
            file=sys.stderr,
            flush=True,
        )
        if GlueContext is not None:
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main(whole_process=True))
