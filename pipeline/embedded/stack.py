"""The embedded stack: embedded AWS + the project's Terraform applied to it + the runtime that makes it live.

`EmbeddedStack.start()` starts moto's server, builds the Lambda zip, applies `terraform/examples/embedded` (the
`terraform/` module with its provider pointed at the endpoint: the one provisioning path, state in the work folder),
and then wires the runtime that AWS itself would provide:

- the moto bridge's Lambda invoker -> `LambdaRunner` (real handlers, in process, environment from the function);
- the moto bridge's Glue runner -> `GlueRunner` (the real Glue job on the shared local SparkSession);
- `EventSourcePoller` for the SQS event source mappings Terraform created;
- `ScheduleTimer` for the scheduled flush.

The SparkSession starts in the background while Terraform applies (the JVM start overlaps the slowest stage), and
`terraform init` runs in the background while the embedded AWS starts and the Lambda zip is built (it needs neither).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.contracts.errors import PipelineError
from pipeline.embedded import bridges
from pipeline.embedded.alarms import AlarmEvaluator
from pipeline.embedded.glue_runner import GlueRunner, GlueRunRecord
from pipeline.embedded.iam import CREDENTIAL_KEYS, Credentials, IamEnforcement, restore_environment
from pipeline.embedded.lambda_runner import LambdaRunner
from pipeline.embedded.layout import StackOutputs, WorkLayout
from pipeline.embedded.poller import EventSourcePoller, discover_sqs_mappings
from pipeline.embedded.schedules import ScheduleTimer, discover_scheduled_targets
from pipeline.embedded.server import (
    DUMMY_CREDENTIALS,
    REGION,
    EmbeddedAws,
    free_port,
    set_harness_credentials,
    set_operator_environment,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.build.terraform import TerraformRunner

logger = logging.getLogger(__name__)


@dataclass
class StackTimings:
    seconds: dict[str, float] = field(default_factory=dict)

    def record(self, name: str, started: float) -> float:
        elapsed = time.monotonic() - started
        self.seconds[name] = round(elapsed, 2)
        return elapsed


def _import_job_modules(index: int) -> int:
    import glue_jobs.ndjson_to_parquet  # noqa: F401 - imported for its side effect: a warm worker

    return index


def embedded_terraform(log_file: Path | None = None) -> TerraformRunner:
    """The runner of terraform/examples/embedded (the one provisioning path of the embedded mode)."""
    from pipeline.build.terraform import EMBEDDED_EXAMPLE_DIR, TerraformRunner

    return TerraformRunner(EMBEDDED_EXAMPLE_DIR, log_file=log_file)


def apply_terraform(
    endpoint_url: str,
    workdir: Path,
    variables: dict[str, Any],
    log_file: Path | None = None,
    *,
    runner: TerraformRunner | None = None,
    initialised: Future[None] | None = None,
) -> dict[str, Any]:
    """`terraform init` + `apply` of terraform/examples/embedded against the endpoint; returns its outputs.

    `initialised`: a background `runner.init(workdir)` to wait for first (the apply then skips its own init)."""
    runner = runner or embedded_terraform(log_file)
    try:
        if initialised is not None:
            initialised.result()
        return dict(runner.apply(endpoint_url, workdir, variables))
    except Exception as exc:
        if isinstance(exc, PipelineError) and exc.actionable:
            raise
        error_name = getattr(exc, "error_name", "TerraformApplyFailed")
        raise PipelineError.named(
            error_name,
            f"Terraform could not apply the stack to the embedded AWS: {exc}",
            f"See {log_file} for Terraform's output." if log_file else "",
        ) from exc


class EmbeddedStack:
    """Everything `pipeline demo`, `run` and `up` need running; a context manager that stops it all."""

    def __init__(
        self,
        layout: WorkLayout,
        *,
        port: int | None = None,
        terraform_variables: dict[str, Any] | None = None,
        flush_interval_seconds: float = 2.0,
        spark_factory: Callable[[], SparkSession] | None = None,
        on_messages: Callable[[Any, list[dict[str, Any]]], None] | None = None,
        on_glue_finished: Callable[[GlueRunRecord], None] | None = None,
        enforce_iam: bool = True,
    ) -> None:
        self.layout = layout
        self.terraform_variables = dict(terraform_variables or {})
        self.flush_interval_seconds = flush_interval_seconds
        self.timings = StackTimings()
        self.aws: EmbeddedAws | None = None
        self.outputs: StackOutputs | None = None
        self.lambda_runner: LambdaRunner | None = None
        self.glue_runner: GlueRunner | None = None
        self.poller: EventSourcePoller | None = None
        self.timer: ScheduleTimer | None = None
        self.alarms: AlarmEvaluator | None = None
        # IAM enforced once Terraform has applied (docs/iam.md); off only for code that must bypass it on purpose.
        self.enforce_iam = enforce_iam
        self.iam: IamEnforcement | None = None
        self._spark_factory = spark_factory
        self._on_messages = on_messages
        self._on_glue_finished = on_glue_finished
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="stack")
        self._spark_future: Future[SparkSession] | None = None
        self._zip_future: Future[Path] | None = None
        self._terraform = embedded_terraform(self.layout.logs / "terraform.log")
        self._init_future: Future[None] | None = None
        self._spark_started_at = 0.0
        self._saved_env: dict[str, str | None] = {}
        # The port is chosen up front so that the environment pointing boto3 and pyarrow at the embedded AWS is
        # set before the JVM starts: Spark's Python workers inherit it, and the Glue job then reads its manifest
        # and inputs from the embedded S3 itself, exactly as on Glue (`_source_file` keeps the s3:// URL).
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        # A session made elsewhere (tests) may predate that environment: the runner then stages inputs locally.
        self.stage_inputs = spark_factory is not None

    # ----------------------------------------------------------------------------------------- start

    def start_lambda_zip(self) -> None:
        """Build the Lambda zip in the background (it overlaps the embedded AWS start)."""
        if self._zip_future is None:
            self._zip_future = self._executor.submit(self._build_zip)

    def start_terraform_init(self) -> None:
        """`terraform init` of the work folder in the background: it needs neither the endpoint nor the
        artifacts, so it overlaps the embedded AWS start and the Lambda zip build (docs/scaling.md#demo-wall-time)."""
        if self._init_future is None:
            self._init_future = self._executor.submit(self._terraform_init)

    def _terraform_init(self) -> None:
        started = time.monotonic()
        self._terraform.init(self.layout.terraform)
        self.timings.record("terraform_init", started)

    def _build_zip(self) -> Path:
        from pipeline.build.lambda_zip import build_lambda_zip

        started = time.monotonic()
        path = build_lambda_zip(self.layout.build / "lambda.zip")
        self.timings.record("lambda_zip", started)
        return path

    def start_spark(self) -> None:
        """Start the JVM in the background now (call before the slow stages)."""
        if self._spark_future is None:
            self._point_process_at(self.endpoint_url)
            self._spark_started_at = time.monotonic()
            self._spark_future = self._executor.submit(self._make_spark)

    def _make_spark(self) -> SparkSession:
        started = time.monotonic()
        if self._spark_factory is not None:
            session = self._spark_factory()
        else:
            from pipeline.embedded.spark_session import local_spark_session

            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # The JVM (and the Python workers it forks) write their standard error to logs/spark.log, so Spark's
            # own log lines stay off the terminal. Only the JVM's stderr is redirected: this thread runs beside
            # Terraform's apply, whose failure must still reach the terminal.
            self.layout.logs.mkdir(parents=True, exist_ok=True)
            with (self.layout.logs / "spark.log").open("ab") as spark_log:
                session = local_spark_session(app_name="pipeline-embedded", jvm_stderr=spark_log)
        self._warm_up(session)
        self.timings.record("spark_start", started)
        return session

    @staticmethod
    def _warm_up(session: SparkSession) -> None:
        """Fork Spark's Python workers and import the job's modules in them now (they are reused), so the first
        Glue run does not pay for it, hidden behind Terraform apply (docs/scaling.md#spark-warm-up)."""
        try:
            workers = max(1, int(session.sparkContext.defaultParallelism))
            session.sparkContext.parallelize(range(workers), workers).map(_import_job_modules).collect()
        except Exception:  # a failed warm-up only costs time: the run itself reports real problems
            logger.warning("Spark warm-up failed", exc_info=True)

    def spark(self) -> SparkSession:
        self.start_spark()
        assert self._spark_future is not None
        return self._spark_future.result()

    def start_aws(self) -> EmbeddedAws:
        started = time.monotonic()
        try:
            self.aws = EmbeddedAws(port=self.port).start()
        except Exception as exc:
            if getattr(exc, "error_name", "") == "PortInUse":
                raise PipelineError.named(
                    "PortInUse", str(exc), "Pick another --port or leave it out.", 2
                ) from exc
            raise
        self._point_process_at(self.aws.endpoint_url)
        self.timings.record("aws_start", started)
        return self.aws

    def apply_stack(self) -> StackOutputs:
        from pipeline.build.glue_artifacts import build_glue_artifacts

        assert self.aws is not None, "start_aws() first"
        if self._zip_future is None:
            self.start_lambda_zip()
        assert self._zip_future is not None
        zip_path = self._zip_future.result()
        glue = build_glue_artifacts(self.layout.build / "glue")  # the script and zip Terraform uploads
        variables = {
            "lambda_zip_path": str(zip_path),
            "glue_script_path": str(glue.script),
            "glue_package_path": str(glue.package),
            **self.terraform_variables,
        }
        started = time.monotonic()
        raw = apply_terraform(
            self.aws.endpoint_url,
            self.layout.terraform,
            variables,
            log_file=self.layout.logs / "terraform.log",
            runner=self._terraform,
            initialised=self._init_future,
        )
        self.timings.record("terraform_apply", started)
        self.outputs = StackOutputs(raw)
        # What `pipeline` ops commands and scripts read (PIPELINE_STACK_OUTPUTS), as `terraform output -json`.
        self.outputs_file.write_text(json.dumps(raw, indent=2, default=str), encoding="utf-8")
        return self.outputs

    @property
    def outputs_file(self) -> Path:
        return self.layout.root / "stack-outputs.json"

    def assume_roles(self) -> dict[str, Credentials]:
        """The harness-only admin user and every component's role credentials (moto's IAM check still off)."""
        assert self.aws is not None and self.outputs is not None
        self.iam = IamEnforcement(self.aws.endpoint_url, REGION, DUMMY_CREDENTIALS)
        admin = self.iam.create_admin()
        roles = self.iam.assume_stack_roles(self.outputs.function_names, [self.outputs.glue_job_name])
        operator = self.iam.assume_operator(self.outputs.manifest_builder_function)
        set_operator_environment(operator.environment() if operator else None)
        set_harness_credentials(admin.access_key_id, admin.secret_access_key)
        self._use_credentials(admin.environment())
        return roles

    def wire_runtime(self) -> None:
        """Install the Lambda invoker, the Glue runner, the SQS poller and the schedule timer."""
        assert self.aws is not None and self.outputs is not None
        endpoint = self.aws.endpoint_url
        roles = self.assume_roles() if self.enforce_iam else {}
        self.lambda_runner = LambdaRunner(
            endpoint,
            log_dir=self.layout.logs,
            region=REGION,
            role_environment={  # every deployed function's (assume_stack_roles keys them by function name)
                name: creds.environment()
                for name, creds in roles.items()
                if name not in (self.outputs.glue_job_name, "states")
            },
        )
        self.glue_runner = GlueRunner(
            endpoint,
            workdir=self.layout.root,
            lake_dir=self.layout.lake,
            quarantine_dir=self.layout.quarantine,
            spark=self.spark,
            region=REGION,
            on_finished=self._on_glue_finished,
            stage_inputs=self.stage_inputs,
            role_credentials={
                name: creds for name, creds in roles.items() if name == self.outputs.glue_job_name
            },
        )
        bridges.set_lambda_invoker(self.lambda_runner.invoke)
        bridges.set_glue_runner(self.glue_runner)
        try:
            self.lambda_runner.warm_up(self.outputs.function_names)
        except bridges.LambdaFunctionError as error:
            raise PipelineError.named(
                "LambdaColdStartFailed",
                f"A deployed function could not start: {error.error_type}: {error.message}",
                f"Fix the handler or its configuration (see {self.layout.logs / 'lambda.log'}).",
            ) from error
        mappings = discover_sqs_mappings(endpoint, region=REGION, function_names=self.outputs.function_names)
        if not mappings:
            raise PipelineError.named(
                "NoEventSourceMapping",
                "The stack has no SQS event source mapping for the manifest builder.",
                "Check terraform/ (aws_lambda_event_source_mapping).",
            )
        if self.iam is not None:
            self.iam.enable()
        self.poller = EventSourcePoller(
            endpoint, self.lambda_runner.invoke, mappings, region=REGION, on_messages=self._on_messages
        ).start()
        targets = discover_scheduled_targets(
            endpoint, region=REGION, interval_override=self.flush_interval_seconds
        )
        self.timer = ScheduleTimer(targets, self.lambda_runner.invoke).start()
        self.alarms = AlarmEvaluator(
            endpoint, region=REGION
        ).start()  # moto stores alarms, never evaluates them

    def raise_if_denied(self) -> None:
        """`IamAccessDenied` naming every request the enforced IAM denied (principal, action, resource)."""
        if self.iam is not None:
            self.iam.raise_if_denied()

    def start(self) -> StackOutputs:
        self.start_spark()
        self.start_terraform_init()
        self.start_lambda_zip()
        self.start_aws()
        outputs = self.apply_stack()
        self.wire_runtime()
        return outputs

    # ----------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        started = time.monotonic()
        for part in (self.alarms, self.timer, self.poller):
            if part is not None:
                part.stop()
        logger.info("stopping: schedules and pollers stopped after %.1f s", time.monotonic() - started)
        bridges.set_glue_runner(None)
        bridges.set_lambda_invoker(None)
        if self.glue_runner is not None:
            self.glue_runner.close()
        if self.iam is not None:
            self.iam.disable()
            set_harness_credentials(None, None)
            set_operator_environment(None)
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        logger.info("stopping: embedded AWS stopped after %.1f s", time.monotonic() - started)
        self._restore_env()
        if self._spark_future is not None and self._spark_factory is None:
            try:
                self._spark_future.result(timeout=120).stop()
            except Exception:  # a JVM that never started has nothing to stop
                logger.debug("spark session not stopped", exc_info=True)
        self._executor.shutdown(wait=False)
        logger.info("stopped after %.1f s", time.monotonic() - started)

    def __enter__(self) -> EmbeddedStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------------- env

    def _point_process_at(self, endpoint_url: str) -> None:
        """Point every boto3 client and pyarrow S3 filesystem of this process (the handlers' and Spark's Python
        workers' too) at the embedded AWS."""
        env = {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": REGION}
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)

    def _use_credentials(self, environment: dict[str, str]) -> None:
        """This process's default identity from now on (the harness admin's): clients built from the
        environment afterwards (operator commands run in process, tests) sign with it."""
        import boto3

        for key in CREDENTIAL_KEYS:
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)
        os.environ.update(environment)
        boto3.DEFAULT_SESSION = None  # it caches the identity it resolved first

    def _restore_env(self) -> None:
        restore_environment(self._saved_env)
        self._saved_env.clear()
        import boto3

        boto3.DEFAULT_SESSION = None
