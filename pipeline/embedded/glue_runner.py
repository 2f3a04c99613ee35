"""Runs the project's real Glue job on local Spark for each Glue job run started in the embedded AWS.

The moto bridge hands every StartJobRun to `GlueRunner.__call__` (in a background thread) and keeps the run
RUNNING until it returns. The runner does what Glue would, on local files (local Spark has no S3 connector):

0. checks that the code it is about to run is the code Terraform deployed: it reads the job's ScriptLocation and
   `--extra-py-files` (the job definition's DefaultArguments, overridden by the run's arguments) from the
   embedded Glue, downloads both from the embedded S3 and compares them byte for byte with the entry script and
   with the files the job package zip is built from (`pipeline.build.glue_artifacts.package_files`) of the
   `ndjson_to_parquet` package and `pipeline.contracts` this process imports. Any difference fails the run with
   `GlueArtifactMismatch` (a stale `dist/glue`, a hand-edited object), a missing job or artefact with
   `GlueArtifactMissing`.
   Why verify rather than import the downloaded zip: the job runs in the one shared, in-process SparkSession.
   Importing a downloaded zip would put a second copy of the package (as top-level `ndjson_to_parquet`) beside
   the one already imported, `sys.modules` would keep whichever came first on the driver, Spark's reused Python
   workers would keep theirs, and `pipeline` (already imported from the checkout) would shadow the zip's
   `pipeline/contracts`; `addPyFile` cannot replace a file of the same name either. A byte-for-byte check has
   none of those failure modes and proves the same thing: what runs is what was uploaded;
1. runs `glue_jobs.ndjson_to_parquet.run_job` in the one shared SparkSession with the job's default arguments
   overridden by the run's (as Glue does), where `--BAD_RECORDS_PATH` points to the work folder's local quarantine
   folder and, for `--TABLE_FORMAT parquet` (the job's default), `--OUTPUT_PATH` to its local lake folder (the lake
   stays there for `pipeline query`). With `--TABLE_FORMAT iceberg` the output is NOT redirected: the table lives
   in the embedded S3 and Glue catalog, and the job writes its data files, metadata and commit there itself
   through the endpoint, exactly as on Glue. The job reads the manifest and its inputs from the embedded S3
   itself (pyarrow's S3 filesystem honours `AWS_ENDPOINT_URL`, which the stack sets before the JVM starts), so
   `_source_file` holds the s3:// URL as on Glue;
2. with `stage_inputs=True` (a SparkSession whose workers cannot reach the endpoint), it instead stages the
   manifest and each entry's object to `<workdir>/staging/<run_id>/` first (a missing object stays missing: the
   job decides, as on Glue) and passes the staged manifest;
3. mirrors what the run changed in those folders back to the output bucket under the same keys (new and rewritten
   files uploaded, files the job replaced deleted), so the embedded S3 holds what Glue would have written;
4. for an Iceberg table, mirrors the table's prefix the other way, from the embedded S3 down to the local lake
   folder (new and changed objects only, `iceberg_reads.mirror_table`; the catalog's current metadata file named
   in `metadata/version-hint.text`), so `pipeline query` reads the committed snapshot after the embedded AWS has
   stopped. A failed mirror is logged and kept on the run record; it never fails a run Glue would have passed.

A `JobError` becomes a FAILED run whose ErrorMessage is `<error_name>: <message>` (the ASL Catch sees it). Spark
runs one job at a time: runs queue on a lock, as they would on a Glue job with MaxConcurrentRuns = 1.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import re
import shutil
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

import pipeline.contracts as pipeline_contracts
from pipeline.embedded.bridges import GlueRunFailed, GlueRunRequest
from pipeline.embedded.emf import EmbeddedMetrics
from pipeline.embedded.iam import (
    CREDENTIAL_KEYS,
    Credentials,
    credentials_in_environment,
    restore_environment,
)
from pipeline.embedded.iceberg_reads import mirror_table
from pipeline.embedded.server import harness_client

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)
# What Glue's own log of a job run would hold: the run's arguments, the job package's log lines (loggers under
# `glue_jobs`), and how it ended (the report the entry script prints, or its `ErrorName: sentence`). Both go to
# <workdir>/logs/glue.log only (`_attach_job_log`).
JOB_LOGGERS = ("glue_jobs", "pipeline.embedded.glue_job")
job_log = logging.getLogger("pipeline.embedded.glue_job")

SparkProvider = Callable[[], "SparkSession"]
JOB_OPTION = re.compile(
    r"^--[A-Z][A-Z0-9_]*$"
)  # the job's own options (Glue's are lower case: --extra-py-files)
DEFAULT_CATALOG_TABLE = "events"  # the job's default --CATALOG_TABLE


@dataclass
class GlueRunRecord:
    run_id: str
    job_name: str
    arguments: dict[str, str]
    manifest_id: str | None = None
    status: str = "RUNNING"
    error: str | None = None
    report: dict[str, Any] | None = None
    seconds: float = 0.0  # running (excluding the wait for the one local Spark)
    queued_seconds: float = 0.0
    # When it ran (time.monotonic(), after the wait for the one local Spark): where the run summary places it.
    started_at: float | None = None
    finished_at: float | None = None
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    table_format: str = "parquet"
    downloaded: list[str] = field(default_factory=list)  # objects of the Iceberg table mirrored to the lake
    removed_locally: list[str] = field(default_factory=list)  # mirrored files whose object is gone
    mirror_error: str | None = None


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    if not root.exists():
        return {}
    found: dict[Path, tuple[int, int]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            found[path.relative_to(root)] = (stat.st_mtime_ns, stat.st_size)
    return found


class GlueRunner:
    """The `GlueRunner` callable the moto bridge runs for every job run."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        workdir: Path,
        lake_dir: Path,
        quarantine_dir: Path,
        spark: SparkProvider,
        region: str = "us-east-1",
        on_finished: Callable[[GlueRunRecord], None] | None = None,
        stage_inputs: bool = False,
        role_credentials: Mapping[str, Credentials] | None = None,
    ) -> None:
        self._endpoint_url, self._region = endpoint_url, region
        self._harness_s3 = harness_client("s3", endpoint_url, region)
        self._s3 = (
            self._harness_s3
        )  # during a run: the job role's client (Glue reads the script as the role too)
        self._glue = harness_client("glue", endpoint_url, region)  # the Glue service's own view of the job
        # job name -> its role's assumed-role credentials: the job's own S3, Glue and catalog calls use them
        self._roles = dict(role_credentials or {})
        self._role_s3: dict[str, Any] = {}
        self._workdir = workdir
        self._lake = lake_dir
        self._quarantine = quarantine_dir
        self._spark = spark
        self._lock = threading.Lock()
        self._on_finished = on_finished
        self._stage_inputs = stage_inputs
        self.runs: list[GlueRunRecord] = []
        self._log_handler: logging.Handler | None = None
        self.metrics = EmbeddedMetrics(endpoint_url, region)

    # ----------------------------------------------------------------------------------------- entry point

    def __call__(self, request: GlueRunRequest) -> None:
        record = GlueRunRecord(
            run_id=request.run_id, job_name=request.job_name, arguments=dict(request.arguments)
        )
        self.runs.append(record)
        self._attach_job_log()
        queued = time.monotonic()
        started = queued
        try:
            with self._lock:
                started = time.monotonic()
                record.queued_seconds = started - queued
                record.started_at = started
                logger.info("glue run %s of job %s started", request.run_id, request.job_name)
                job_log.info(
                    "job run %s of %s started: %s",
                    request.run_id,
                    request.job_name,
                    " ".join(f"{k} {v}" for k, v in sorted(request.arguments.items())),
                )
                self._run(request, record)
            record.status = "SUCCEEDED"
            job_log.info(
                "job run %s (manifest %s) SUCCEEDED in %.1f s; report: %s",
                request.run_id,
                record.manifest_id,
                time.monotonic() - started,
                json.dumps(record.report, separators=(",", ":"), default=str),
            )
        except GlueRunFailed as failed:
            record.status, record.error = "FAILED", str(failed)
            self._log_failure(record, None)
            raise
        except OSError as exc:
            name = "DiskFull" if exc.errno == errno.ENOSPC else "EmbeddedGlueRunnerError"
            record.status, record.error = "FAILED", f"{name}: {exc}"
            logger.error("glue run %s failed:\n%s", request.run_id, traceback.format_exc())
            self._log_failure(record, traceback.format_exc())
            raise GlueRunFailed(record.error) from exc
        except Exception as exc:
            record.status, record.error = "FAILED", f"EmbeddedGlueRunnerError: {type(exc).__name__}: {exc}"
            logger.error("glue run %s crashed:\n%s", request.run_id, traceback.format_exc())
            self._log_failure(record, traceback.format_exc())
            raise GlueRunFailed(record.error) from exc
        finally:
            record.finished_at = time.monotonic()
            record.seconds = record.finished_at - started
            if self._on_finished is not None:
                self._on_finished(record)

    @staticmethod
    def _log_failure(record: GlueRunRecord, trace: str | None) -> None:
        job_log.error(
            "job run %s (manifest %s) FAILED: %s%s",
            record.run_id,
            record.manifest_id,
            record.error,
            f"\n{trace}" if trace else "",
        )

    # ----------------------------------------------------------------------------------------- one run

    def _run(self, request: GlueRunRequest, record: GlueRunRecord) -> None:
        role = self._roles.get(request.job_name)
        self._s3 = self._job_s3(request.job_name, role)
        try:
            self._run_as_role(request, record, role)
        finally:
            self._s3 = self._harness_s3

    def _job_s3(self, job_name: str, role: Credentials | None) -> Any:
        if role is None:
            return self._harness_s3
        if job_name not in self._role_s3:
            self._role_s3[job_name] = role.session(self._region).client("s3", endpoint_url=self._endpoint_url)
        return self._role_s3[job_name]

    def _run_as_role(self, request: GlueRunRequest, record: GlueRunRecord, role: Credentials | None) -> None:
        from glue_jobs import ndjson_to_parquet as job
        from glue_jobs.ndjson_to_parquet import metrics as job_metrics

        # The run's EMF line (stdout, its log group on Glue) to glue.log and the embedded CloudWatch, for this run only.
        with job_metrics.sink_to(self.metrics.sink(self._workdir / "logs" / "glue.log")):
            self._run_job_as_role(request, record, role, job)

    def _run_job_as_role(
        self, request: GlueRunRequest, record: GlueRunRecord, role: Credentials | None, job: Any
    ) -> None:
        arguments = self._verify_artifacts(request.job_name, dict(request.arguments), job)
        maintain = arguments.get("--MODE", "").strip().lower() == "maintain"
        for required in ("--OUTPUT_PATH",) if maintain else ("--MANIFEST_PATH", "--OUTPUT_PATH"):
            if not arguments.get(required):
                raise GlueRunFailed(f"InvalidArguments: the job run has no {required} argument.")
        record.table_format = arguments.get("--TABLE_FORMAT", "parquet").strip().lower() or "parquet"
        iceberg = record.table_format == "iceberg"
        output_uri = arguments["--OUTPUT_PATH"]
        bad_uri = arguments.get("--BAD_RECORDS_PATH")
        staging = self._workdir / "staging" / request.run_id
        staging.mkdir(parents=True, exist_ok=True)
        try:
            local_args = dict(arguments)
            if self._stage_inputs and not maintain:
                manifest_local, manifest = self._stage_manifest(arguments["--MANIFEST_PATH"], staging)
                local_args["--MANIFEST_PATH"] = str(manifest_local)
                record.manifest_id = arguments.get("--MANIFEST_ID") or manifest.get("manifest_id")
            else:
                record.manifest_id = arguments.get("--MANIFEST_ID")
            if (
                not iceberg
            ):  # an Iceberg table lives in the embedded S3 and catalog: the job writes there itself
                local_args["--OUTPUT_PATH"] = str(self._lake)
            if bad_uri:
                local_args["--BAD_RECORDS_PATH"] = str(self._quarantine)
            schema_uri = arguments.get("--SCHEMA_PATH")
            if schema_uri and schema_uri.startswith("s3://"):
                local_args["--SCHEMA_PATH"] = str(self._download(schema_uri, staging / "schema"))
            argv = ["--JOB_NAME", request.job_name, "--JOB_RUN_ID", request.run_id]
            for key, value in local_args.items():
                if key.startswith("--") and key not in ("--JOB_NAME", "--JOB_RUN_ID"):
                    argv.extend([key, value])

            before = {"lake": {} if iceberg else _snapshot(self._lake), "bad": _snapshot(self._quarantine)}
            spark = self._spark()
            self._attach_job_log()
            try:
                with _job_role(role, spark):
                    args = job.parse_job_args(argv)
                    report = job.run_job(spark, args)
            except job.JobError as error:
                raise GlueRunFailed(f"{error.error_name}: {_message(error)}") from error
            finally:
                # What a failed run left (its quarantine, say) is mirrored too, as Glue would have written it.
                if iceberg:
                    self._mirror_table_down(output_uri, arguments, record)
                else:
                    self._mirror(self._lake, output_uri, before["lake"], record)
                if bad_uri:
                    self._mirror(self._quarantine, bad_uri, before["bad"], record)
            record.report = report
            record.manifest_id = record.manifest_id or report.get("manifest_id")
            logger.info(
                "glue run %s (%s): %s records out, %s bad",
                request.run_id,
                record.manifest_id,
                report.get("records_out"),
                report.get("bad_records"),
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _verify_artifacts(
        self, job_name: str, run_arguments: dict[str, str], job: ModuleType
    ) -> dict[str, str]:
        """Fail the run unless the deployed script and package equal, byte for byte, what this process runs.

        Returns the run's effective arguments: the job's own options (`--UPPER_CASE`) among its DefaultArguments,
        overridden by the run's arguments, as Glue hands them to the script.
        """
        from pipeline.build.glue_artifacts import SCRIPT_NAME, package_files

        try:
            definition = self._glue.get_job(JobName=job_name)["Job"]
        except ClientError as exc:
            raise GlueRunFailed(
                f"GlueArtifactMissing: the Glue job {job_name} has no definition to take its code from "
                f"({exc.response['Error'].get('Code')})."
            ) from exc
        arguments = {**definition.get("DefaultArguments", {}), **run_arguments}
        script_uri = definition.get("Command", {}).get("ScriptLocation", "")
        package_uris = [uri for uri in arguments.get("--extra-py-files", "").split(",") if uri]
        if not script_uri or len(package_uris) != 1:
            raise GlueRunFailed(
                f"GlueArtifactMissing: the Glue job {job_name} needs a ScriptLocation and one --extra-py-files "
                f"zip (got {script_uri!r} and {package_uris}); apply the stack built by `pipeline build-glue`."
            )
        package_dir = Path(str(job.__file__)).resolve().parent
        contracts_root = Path(pipeline_contracts.__file__).resolve().parents[2]
        if contracts_root != package_dir.parents[1]:
            raise GlueArtifactsDiffer(
                f"the job package ({package_dir}) and pipeline.contracts ({contracts_root}) come from "
                "different checkouts"
            )
        _same_bytes(self._get(script_uri), (package_dir.parent / SCRIPT_NAME).read_bytes(), script_uri)
        with zipfile.ZipFile(io.BytesIO(self._get(package_uris[0]))) as archive:
            uploaded = {name: archive.read(name) for name in archive.namelist()}
        expected = package_files(contracts_root)
        if set(uploaded) != set(expected):
            extra, missing = sorted(set(uploaded) - set(expected)), sorted(set(expected) - set(uploaded))
            raise GlueArtifactsDiffer(f"{package_uris[0]} holds {extra} too and lacks {missing}")
        for name, path in sorted(expected.items()):
            _same_bytes(uploaded[name], path.read_bytes(), f"{package_uris[0]}:{name}")
        defaults = {
            k: str(v) for k, v in definition.get("DefaultArguments", {}).items() if JOB_OPTION.match(k)
        }
        return {**defaults, **run_arguments}

    def _get(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            raise GlueRunFailed(
                f"GlueArtifactMissing: cannot read {uri} ({exc.response['Error'].get('Code')}); "
                "apply the stack again."
            ) from exc

    def _stage_manifest(self, manifest_uri: str, staging: Path) -> tuple[Path, dict[str, Any]]:
        bucket, key = split_s3_uri(manifest_uri)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise GlueRunFailed(
                f"ManifestNotFound: cannot read the manifest {manifest_uri} "
                f"({exc.response['Error'].get('Code')})."
            ) from exc
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            raise GlueRunFailed(f"InvalidManifest: {manifest_uri} is not JSON ({exc}).") from exc
        entries = manifest.get("entries") if isinstance(manifest, dict) else None
        if not isinstance(entries, list):
            raise GlueRunFailed(f"InvalidManifest: {manifest_uri} has no 'entries' list.")
        local_entries = []
        for index, entry in enumerate(entries):
            url = entry.get("url", "") if isinstance(entry, dict) else ""
            if not url.startswith("s3://"):
                local_entries.append(entry)
                continue
            src_bucket, src_key = split_s3_uri(url)
            target = staging / "input" / f"{index:06d}" / src_bucket / src_key
            try:
                self._download(url, target)
            except ClientError as exc:
                code = exc.response["Error"].get("Code")
                if code not in ("NoSuchKey", "404", "NoSuchBucket"):
                    raise
                # Left missing on purpose: the job reports a missing mandatory file by name, or skips an optional one.
            local_entries.append(
                {**entry, "url": str(target), "meta": {**entry.get("meta", {}), "s3_url": url}}
            )
        local = {**manifest, "entries": local_entries}
        path = staging / "manifest.json"
        path.write_text(json.dumps(local), encoding="utf-8")
        return path, manifest

    def _download(self, uri: str, target: Path) -> Path:
        bucket, key = split_s3_uri(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._s3.download_file(bucket, key, str(target))
        return target

    # ----------------------------------------------------------------------------------------- mirroring

    def _mirror(
        self, root: Path, uri: str, before: dict[Path, tuple[int, int]], record: GlueRunRecord
    ) -> None:
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        after = _snapshot(root)
        for relative, signature in sorted(after.items()):
            if before.get(relative) != signature:
                key = prefix + relative.as_posix()
                self._s3.upload_file(str(root / relative), bucket, key)
                record.uploaded.append(f"s3://{bucket}/{key}")
        for relative in sorted(set(before) - set(after)):
            key = prefix + relative.as_posix()
            self._s3.delete_object(Bucket=bucket, Key=key)
            record.deleted.append(f"s3://{bucket}/{key}")

    def _mirror_table_down(self, output_uri: str, arguments: dict[str, str], record: GlueRunRecord) -> None:
        """Copy the Iceberg table's prefix (data, metadata, reports) from the embedded S3 into the local lake."""
        if not output_uri.startswith("s3://"):
            return  # a local table is already where the reader looks
        try:
            result = mirror_table(
                self._s3,
                output_uri,
                self._lake,
                metadata_location=self._metadata_location(arguments),
            )
        except (ClientError, OSError, ValueError) as exc:
            record.mirror_error = f"{type(exc).__name__}: {exc}"
            logger.error(
                "glue run %s: mirroring %s to %s failed: %s", record.run_id, output_uri, self._lake, exc
            )
            return
        record.downloaded.extend(result.downloaded)
        record.removed_locally.extend(result.deleted)

    def _metadata_location(self, arguments: dict[str, str]) -> str | None:
        """The Glue catalog's current metadata file of the run's Iceberg table (None: no catalog, no table yet)."""
        database = arguments.get("--CATALOG_DATABASE")
        if not database:
            return None
        table = arguments.get("--CATALOG_TABLE") or DEFAULT_CATALOG_TABLE
        try:
            found = self._glue.get_table(DatabaseName=database, Name=table)["Table"]
        except ClientError as exc:
            if exc.response["Error"].get("Code") == "EntityNotFoundException":
                return None
            raise
        location = found.get("Parameters", {}).get("metadata_location")
        return str(location) if location else None

    def _attach_job_log(self) -> None:
        if self._log_handler is not None:
            return
        log_dir = self._workdir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / "glue.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        for name in JOB_LOGGERS:
            job_logger = logging.getLogger(name)
            job_logger.addHandler(handler)
            job_logger.setLevel(logging.INFO)
            job_logger.propagate = False
        self._log_handler = handler

    def close(self) -> None:
        if self._log_handler is not None:
            for name in JOB_LOGGERS:
                job_logger = logging.getLogger(name)
                job_logger.removeHandler(self._log_handler)
                # A run still in flight (Ctrl-C stops the runner under it) logs to the process's own handlers from
                # now on; with no handler at all, Python's last-resort handler would print its failure on stderr.
                job_logger.propagate = True
                if not any(isinstance(h, logging.NullHandler) for h in job_logger.handlers):
                    job_logger.addHandler(logging.NullHandler())
            self._log_handler.close()
            self._log_handler = None


@contextlib.contextmanager
def _job_role(role: Credentials | None, spark: SparkSession) -> Iterator[None]:
    """The job role's credentials where the job's code looks for them, as Glue provides them: the driver's
    environment (pyarrow's and pyiceberg's S3 and Glue clients, boto3's default chain) and the environment of
    Spark's Python workers (`SparkContext.environment` is handed to every worker the job's tasks start).

    The process environment is shared: while the job runs, a client another thread builds from the environment
    gets the job's role too, which is why the harness and the runtime sign with explicit keys
    (`server.harness_client`). boto3's default session and the job's cached S3 client are dropped before and
    after, so neither keeps a previous identity."""
    if role is None:
        yield
        return
    import boto3

    from glue_jobs.ndjson_to_parquet import storage

    role_env = role.environment()
    worker_env = spark.sparkContext.environment
    saved_worker = {key: worker_env.get(key) for key in CREDENTIAL_KEYS}

    def reset_cached_identities() -> None:
        boto3.DEFAULT_SESSION = None
        storage.s3_client.cache_clear()

    for key in CREDENTIAL_KEYS:
        worker_env.pop(key, None)
    worker_env.update(role_env)
    try:
        with credentials_in_environment(role_env):
            reset_cached_identities()
            yield
    finally:
        restore_environment(saved_worker, worker_env)
        reset_cached_identities()


class GlueArtifactsDiffer(GlueRunFailed):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"GlueArtifactMismatch: {what}: the deployed Glue code is not the code the embedded runner runs; "
            "rebuild with `pipeline build-glue` and apply the stack again."
        )


def _same_bytes(uploaded: bytes, local: bytes, what: str) -> None:
    if uploaded != local:
        raise GlueArtifactsDiffer(f"{what} differs from the local file")


def _message(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return str(message) if message else str(error)
