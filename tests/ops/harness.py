"""A small but complete stack on the embedded AWS for the operator-command tests, created with boto3 (Terraform is
the end-to-end test's job): tracking table (pipeline.control_plane.adapters.tracking_schema), input / manifest / lake buckets, ingest queue
with its DLQ, S3 -> SQS notification, SNS alert topic, the manifest builder function (the real handler, run in
process by the embedded Lambda runner), the Glue job (the real job on the session's local Spark, through the
embedded Glue runner) and the state machine rendered from state_machines/ndjson_to_parquet.asl.json.

Nothing here writes tracking items: the pipeline's own code paths do (S3 notifications -> SQS -> handler,
state machine -> Glue -> status update).

IAM is enforced as in the Terraform stack (docs/iam.md): the names are Terraform's for name_prefix "ops", the roles
are Terraform's with the policies `terraform/` renders (tests/support/terraform_policies.py, one background apply
per table format and run), and every component signs as its role; a denied request fails the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
from support import terraform_policies

from pipeline.build.asl import NDJSON_TO_PARQUET, render_file
from pipeline.build.glue_artifacts import build_glue_artifacts
from pipeline.control_plane.adapters.tracking_schema import create_tracking_table
from pipeline.embedded import bridges as moto_bridges
from pipeline.embedded.bridges.iam import clear_denials, set_stepfunctions_credentials
from pipeline.embedded.glue_runner import GlueRunner
from pipeline.embedded.iam import (
    CREDENTIAL_KEYS,
    Credentials,
    IamAccessDenied,
    IamEnforcement,
    credentials_in_environment,
    denial_error,
    restore_environment,
)
from pipeline.embedded.lambda_runner import LambdaRunner
from pipeline.embedded.poller import EventSourcePoller, discover_sqs_mappings
from pipeline.embedded.server import DUMMY_CREDENTIALS, REGION, EmbeddedAws, set_harness_credentials
from pipeline.ops.aws import AwsSession
from pipeline.ops.context import OpsContext
from pipeline.ops.stack_names import StackNames

ACCOUNT = "123456789012"
# Terraform's names for name_prefix "ops" and table "events" (terraform/examples/embedded with
# support.terraform_policies.VARIABLES): the roles get Terraform's policies, which name these buckets and prefixes,
# and `MiniStack.start` asserts that the rendered stack's outputs are these names.
_SUFFIX = f"{ACCOUNT}-{REGION}"
TABLE = "ops-tracking"
INPUT = f"ops-input-{_SUFFIX}"
MANIFESTS = f"ops-manifest-{_SUFFIX}"
LAKE = f"ops-output-{_SUFFIX}"
ARTIFACTS = f"ops-artifacts-{_SUFFIX}"
OUTPUT_PREFIX = "lake/events/"
QUARANTINE_PREFIX = "quarantine/events/"
OUTPUT_PATH = f"s3://{LAKE}/{OUTPUT_PREFIX}"
BAD_PATH = f"s3://{LAKE}/{QUARANTINE_PREFIX}"
QUEUE = "ops-ingest"
DLQ = "ops-ingest-dlq"
TOPIC = "ops-alerts"
FUNCTION = "ops-manifest-builder"
JOB = "ops-ndjson-to-parquet"
MACHINE = "ops-ndjson-to-parquet"
DATABASE = "ops_lake"
GLUE_TABLE = "events"
INPUT_PREFIX = "raw/"
MANIFEST_PREFIX = "manifests/"

_active: MiniStack | None = None


def active_stack() -> MiniStack | None:
    """The MiniStack started last and not stopped yet (the suites' after-test denial check reads it)."""
    return _active


def assert_terraform_names(outputs: dict[str, Any]) -> None:
    """The rendered stack's names are the harness's: a drift (a renamed resource, prefix or variable) fails here,
    not as a puzzling AccessDenied on a resource the policy names differently."""
    expected = {
        "tracking_table_name": TABLE,
        "input_bucket": INPUT,
        "manifest_bucket": MANIFESTS,
        "output_bucket": LAKE,
        "artifacts_bucket": ARTIFACTS,
        "output_path": OUTPUT_PATH,
        "bad_records_path": BAD_PATH,
        "input_prefix": INPUT_PREFIX,
        "manifest_prefix": MANIFEST_PREFIX,
        "manifest_builder_function_name": FUNCTION,
        "status_updater_function_name": FUNCTION,
        "glue_job_name": JOB,
        "glue_database_name": DATABASE,
        "glue_table_name": GLUE_TABLE,
        "state_machine_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}",
        "ingest_queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
        "ingest_dlq_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}",
        "alert_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
    }
    found = {name: outputs.get(name) for name in expected}
    drift = {name: (found[name], value) for name, value in expected.items() if found[name] != value}
    assert not drift, (
        f"Terraform's names differ from the ops harness's (output: (terraform, harness)): {drift}"
    )


def ensure_sfn_s3_body_is_text() -> None:
    """Stop-gap for a moto gap until pipeline/embedded/bridges/ covers it: Step Functions' aws-sdk
    `s3:getObject` returns `Body` as text on AWS, moto hands the interpreter a botocore stream, so the ASL's
    `States.StringToJson($.Body)` (ReadJobReport) fails. Applied only when no bridge already turns it into text."""
    from botocore.response import StreamingBody
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as module,
    )

    cls = module.StateTaskServiceAwsSdk
    if any("body" in name for name in moto_bridges.installed_bridges()) or getattr(
        cls._eval_service_task, "_ops_tests_text_body", False
    ):
        return
    original = cls._eval_service_task

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        response = env.stack[-1] if env.stack else None
        if isinstance(response, dict) and isinstance(response.get("Body"), StreamingBody):
            response["Body"] = response["Body"].read().decode("utf-8", errors="replace")

    _eval_service_task._ops_tests_text_body = True  # type: ignore[attr-defined]
    cls._eval_service_task = _eval_service_task


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest_builder.py", "# the embedded runner loads lambda/manifest_builder.py\n")
    return buffer.getvalue()


def ndjson(date: str, name: str, rows: int, bad_lines: int = 0) -> bytes:
    lines = [
        json.dumps(
            {
                "event_id": f"{date}-{name}-{i}",
                "user": {"id": i % 7, "country": "NL"},
                "amount": i * 1.25,
                "ts": f"{date}T10:{i % 60:02d}:00Z",
                "kind": "click" if i % 2 else "view",
            }
        )
        for i in range(rows)
    ]
    lines += ["{not json" for _ in range(bad_lines)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class MiniStack:
    aws: EmbeddedAws
    workdir: Path
    queue_url: str = ""
    dlq_url: str = ""
    machine_arn: str = ""
    runner: LambdaRunner | None = None
    glue: GlueRunner | None = None
    poller: EventSourcePoller | None = None
    saved_env: dict[str, str | None] = field(default_factory=dict)
    table_format: str = "parquet"
    policies: dict[str, Any] = field(default_factory=dict)
    iam: IamEnforcement | None = None
    operator: Credentials | None = None
    role_credentials: dict[str, Credentials] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------ set-up
    def start(self, spark: Any, env: dict[str, str], table_format: str = "parquet") -> MiniStack:
        """`table_format="iceberg"`: the job commits to an Iceberg table in the embedded Glue catalog
        (DATABASE.GLUE_TABLE at OUTPUT_PATH), as the Terraform stack's default.

        The roles are Terraform's, with the policies `terraform/` renders for this table format
        (support/terraform_policies.py); once everything is created, IAM is enforced as in the Terraform stack
        (pipeline/embedded/iam.py): the harness signs as the harness-only admin, the function, the Glue job and
        the state machine as their roles, `ctx()` and `operator_env()` as the operators' role."""
        global _active
        self.table_format = table_format
        self.policies = terraform_policies.rendered(table_format)
        assert_terraform_names(self.policies["outputs"])
        ensure_sfn_s3_body_is_text()
        self.aws.reset()  # moto's backends outlive a server: start from an empty account
        self._point_process_at_aws()
        c = self.aws.client
        create_tracking_table(c("dynamodb"), TABLE)
        s3 = c("s3")
        for bucket in (INPUT, MANIFESTS, LAKE):
            s3.create_bucket(Bucket=bucket)
        sqs = c("sqs")
        self.dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
        dlq_arn = self.queue_arn(self.dlq_url)
        self.queue_url = sqs.create_queue(
            QueueName=QUEUE,
            Attributes={
                "VisibilityTimeout": "1",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
            },
        )["QueueUrl"]
        queue_arn = self.queue_arn(self.queue_url)
        s3.put_bucket_notification_configuration(
            Bucket=INPUT,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": INPUT_PREFIX}]}},
                    }
                ]
            },
        )
        topic = c("sns").create_topic(Name=TOPIC)["TopicArn"]
        roles = self._create_terraform_roles()
        components = self.policies["components"]
        variables = {
            "TRACKING_TABLE": TABLE,
            "MANIFEST_BUCKET": MANIFESTS,
            "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{MACHINE}",
            "MAX_FILES_PER_MANIFEST": "100",
            "MAX_BATCH_WAIT_SECONDS": "0",
            "PENDING_SHARDS": "2",
            "LOG_LEVEL": "WARNING",
            "REPAIR_GRACE_SECONDS": "960",
            **env,
        }
        function_arn = c("lambda").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.11",
            Role=roles[components["function"]],
            Handler="manifest_builder.lambda_handler",
            Code={"ZipFile": _zip()},
            Timeout=60,
            MemorySize=512,
            Environment={"Variables": variables},
        )["FunctionArn"]
        c("lambda").create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=FUNCTION,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        # The job's code, uploaded as Terraform does (the Glue runner checks it is the code it runs).
        glue_code = build_glue_artifacts(self.workdir / "glue")
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.upload_file(str(glue_code.script), ARTIFACTS, "glue/run_ndjson_to_parquet.py")
        s3.upload_file(str(glue_code.package), ARTIFACTS, "glue/ndjson_to_parquet.zip")
        c("glue").create_job(
            Name=JOB,
            Role=roles[components["glue_job"]],
            GlueVersion="5.0",
            ExecutionProperty={"MaxConcurrentRuns": 4},
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{ARTIFACTS}/glue/run_ndjson_to_parquet.py"},
            DefaultArguments={
                "--extra-py-files": f"s3://{ARTIFACTS}/glue/ndjson_to_parquet.zip",
                "--TABLE_FORMAT": table_format,
                "--CATALOG_DATABASE": DATABASE,
                "--CATALOG_TABLE": GLUE_TABLE,
            },
        )
        c("glue").create_database(DatabaseInput={"Name": DATABASE})
        definition = render_file(
            NDJSON_TO_PARQUET,
            {
                "alert_topic_arn": topic,
                "bad_records_path": BAD_PATH,
                "compression_type": "zstd",
                "execution_timeout_seconds": 600,
                "glue_job_name": JOB,
                "glue_retry_interval_seconds": 1,
                "glue_retry_max_attempts": 2,
                "glue_retry_max_delay_seconds": 2,
                "glue_task_timeout_seconds": 300,
                "output_path": OUTPUT_PATH,
                "report_bucket": LAKE,
                "report_key_prefix": f"{OUTPUT_PREFIX}_reports/",
                "retry_interval_seconds": 1,
                "status_updater_function_arn": function_arn,
                "tracking_table_name": TABLE,
                "partition": "aws",
            },
        )
        self.machine_arn = c("stepfunctions").create_state_machine(
            name=MACHINE, definition=definition, roleArn=roles[components["state_machine"]]
        )["stateMachineArn"]

        # Everything exists: the identities (moto's check still off), then the runtime signed with them.
        self.iam = IamEnforcement(self.aws.endpoint_url, REGION, DUMMY_CREDENTIALS)
        admin = self.iam.create_admin()
        credentials = self.iam.assume_stack_roles([FUNCTION], [JOB])
        self.operator = self.iam.assume_operator(FUNCTION)
        assert self.operator is not None, "the rendered stack has no operators' role"
        set_harness_credentials(admin.access_key_id, admin.secret_access_key)
        self._use_credentials(admin.environment())
        self.role_credentials = credentials

        self.runner = LambdaRunner(
            self.aws.endpoint_url,
            log_dir=self.workdir / "logs",
            region=REGION,
            role_environment={FUNCTION: credentials[FUNCTION].environment()},
        )
        self.glue = GlueRunner(
            self.aws.endpoint_url,
            workdir=self.workdir,
            lake_dir=self.workdir / "lake",
            quarantine_dir=self.workdir / "quarantine",
            spark=lambda: spark,
            region=REGION,
            stage_inputs=True,  # the shared SparkSession may predate this endpoint (as in embedded/stack.py)
            role_credentials={JOB: credentials[JOB]},
        )
        moto_bridges.set_lambda_invoker(self.runner.invoke)
        moto_bridges.set_glue_runner(self.glue)
        mappings = discover_sqs_mappings(self.aws.endpoint_url, region=REGION, function_names=[FUNCTION])
        self.poller = EventSourcePoller(self.aws.endpoint_url, self.runner.invoke, mappings, region=REGION)
        self.iam.enable()
        _active = self
        return self

    def _create_terraform_roles(self) -> dict[str, str]:
        """Every role of the rendered stack with exactly its trust, inline and attached policies; name -> ARN."""
        iam = self.aws.client("iam")
        arns: dict[str, str] = {}
        for name, role in sorted(self.policies["roles"].items()):
            arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(role["trust"]))[
                "Role"
            ]["Arn"]
            for policy, document in role["inline"].items():
                iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))
            for attached in role["attached"]:
                arn = attached["arn"]
                if ":iam::aws:policy/" not in arn:  # a customer-managed policy: created with its document
                    arn = iam.create_policy(
                        PolicyName=attached["name"], PolicyDocument=json.dumps(attached["document"])
                    )["Policy"]["Arn"]
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        return arns

    def raise_if_denied(self) -> None:
        """`IamAccessDenied` naming every request denied since the last check (then forgotten)."""
        if self.iam is None or not self.iam.enabled:
            return
        found = self.iam.denials()
        clear_denials()
        if found:
            raise denial_error(found)

    def harness_keys(self) -> tuple[str, str]:
        """The harness admin's access key and secret (for clients the tests build with explicit keys)."""
        assert self.iam is not None and self.iam.admin is not None
        return self.iam.admin.access_key_id, self.iam.admin.secret_access_key

    @contextlib.contextmanager
    def enforcement_suspended(self) -> Iterator[None]:
        """moto's IAM check off for code that runs outside this stack (e.g. the Glue job run directly on a test's
        own bucket, which no Terraform policy names), then on again with the same identities."""
        if self.iam is None or not self.iam.enabled:
            yield
            return
        self.raise_if_denied()
        self.iam.disable()
        try:
            yield
        finally:
            self.iam.enable()
            set_stepfunctions_credentials(self.role_credentials["states"].session_kwargs())

    def operator_env(self) -> dict[str, str]:
        """The operators' role's keys, for operator commands run through the CLI (CliRunner's or a process's env)."""
        assert self.operator is not None
        return self.operator.environment()

    @contextlib.contextmanager
    def as_function(self) -> Iterator[None]:
        """The function's execution-role keys in the environment (for the handler's code built by a test)."""
        boto3.DEFAULT_SESSION = None
        try:
            with credentials_in_environment(self.role_credentials[FUNCTION].environment()):
                yield
        finally:
            boto3.DEFAULT_SESSION = None

    def stop(self) -> None:
        global _active
        moto_bridges.set_glue_runner(None)
        moto_bridges.set_lambda_invoker(None)
        if self.glue is not None:
            self.glue.close()
        denied: IamAccessDenied | None = None
        if self.iam is not None:
            try:
                self.raise_if_denied()
            except IamAccessDenied as exc:
                denied = exc
            self.iam.disable()
            self.iam = None
        set_harness_credentials(None, None)
        if _active is self:
            _active = None
        restore_environment(self.saved_env)
        boto3.DEFAULT_SESSION = None
        if denied is not None:
            raise denied

    def _use_credentials(self, environment: dict[str, str]) -> None:
        """The process's default identity (clients the tests and the in-process CLI build from the environment):
        the harness admin's, as in the Terraform stack (pipeline/embedded/stack.py)."""
        for key in CREDENTIAL_KEYS:
            self.saved_env.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)
        os.environ.update(environment)
        boto3.DEFAULT_SESSION = None

    def _point_process_at_aws(self) -> None:
        # The handler (in process) builds its boto3 clients from the environment, as on AWS.
        wanted = {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": self.aws.endpoint_url, "AWS_REGION": REGION}
        for key in [
            *wanted,
            "AWS_SESSION_TOKEN",
            "TRACKING_TABLE",
            "MANIFEST_BUCKET",
            "STATE_MACHINE_ARN",
            "MAX_FILES_PER_MANIFEST",
            "MAX_BATCH_WAIT_SECONDS",
            "PENDING_SHARDS",
            "LOG_LEVEL",
            "REPAIR_GRACE_SECONDS",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION",
        ]:
            self.saved_env.setdefault(key, os.environ.get(key))
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(wanted)

    # ------------------------------------------------------------------------------------------ helpers
    def queue_arn(self, url: str) -> str:
        return self.aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def stack_names(self, **extra: Any) -> StackNames:
        values = dict(
            region=REGION,
            tracking_table=TABLE,
            ingest_queue_url=self.queue_url,
            dlq_url=self.dlq_url,
            state_machine_arn=self.machine_arn,
            input_bucket=INPUT,
            manifest_bucket=MANIFESTS,
            output_path=OUTPUT_PATH,
            bad_records_path=BAD_PATH,
            glue_database=DATABASE,
            glue_table=GLUE_TABLE,
            function_name=FUNCTION,
            pending_shards=2,
            table_format=self.table_format,
        )
        values.update(extra)
        return StackNames(**values)

    def outputs_file(self) -> Path:
        """The stack's names as `terraform output -json` prints them (for the CLI tests)."""
        names = self.stack_names()
        document = {
            "region": names.region,
            "tracking_table_name": names.tracking_table,
            "ingest_queue_url": names.ingest_queue_url,
            "ingest_dlq_url": names.dlq_url,
            "state_machine_arn": names.state_machine_arn,
            "input_bucket_name": names.input_bucket,
            "manifest_bucket_name": names.manifest_bucket,
            "output_path": names.output_path,
            "bad_records_path": names.bad_records_path,
            "glue_database_name": names.glue_database,
            "glue_table_name": names.glue_table,
            "manifest_builder_function_name": names.function_name,
            "table_format": names.table_format,
        }
        path = self.workdir / "outputs.json"
        path.write_text(
            json.dumps({k: {"value": v, "type": "string", "sensitive": False} for k, v in document.items()}),
            encoding="utf-8",
        )
        return path

    def ctx(self, **extra: Any) -> OpsContext:
        """An operator command's context, signed as the operators' role (Terraform's `operator_policy_json`)."""
        session = AwsSession.create(endpoint_url=self.aws.endpoint_url, region=REGION)
        if self.operator is not None:
            session._session = self.operator.session(REGION)
        return OpsContext(aws=session, stack=self.stack_names(**extra))

    def drop(self, key: str, body: bytes, bucket: str = INPUT) -> None:
        self.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)

    def deliver(self, rounds: int = 5) -> int:
        """Run the event source mapping until the ingest queue is empty (the Lambda's SQS path)."""
        assert self.poller is not None
        handled = 0
        [mapping] = self.poller.mappings
        for _ in range(rounds):
            got = self.poller.poll_once(mapping)
            handled += got
            if got == 0 and self.depth(self.queue_url) == 0:
                break
        return handled

    def flush(self) -> dict[str, Any]:
        """The scheduled flush, invoked as EventBridge would (through the function)."""
        assert self.runner is not None
        return json.loads(self.runner.invoke(FUNCTION, json.dumps({"action": "flush"}).encode()))

    def depth(self, url: str) -> int:
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return sum(int(v) for v in attributes["Attributes"].values())

    def items(self, date: str) -> list[dict[str, Any]]:
        from pipeline.ops.table_reads import query_date

        return list(query_date(self.aws.client("dynamodb"), TABLE, date))

    def files(self, date: str) -> list[dict[str, Any]]:
        """The date's file items as every reader sees them: ``status`` derived through the one owner (a file of a
        final manifest has its manifest's status), ``stored_status`` the item's own (pipeline/ops/table_reads)."""
        from pipeline.ops.table_reads import read_date

        return read_date(self.aws.client("dynamodb"), TABLE, date).files

    def manifests(self, date: str) -> list[dict[str, Any]]:
        return [i for i in self.items(date) if i["file_key"].startswith("MANIFEST#")]

    def wait_manifests_final(self, date: str, count: int, timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            manifests = [m for m in self.manifests(date) if not m.get("superseded_by")]
            if len(manifests) >= count and all(m.get("status") in ("completed", "failed") for m in manifests):
                return manifests
            time.sleep(0.5)
        raise AssertionError(f"manifests of {date} not final in time: {self.manifests(date)}")

    def wait_executions_done(self, timeout: float = 120) -> None:
        sfn = self.aws.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = sfn.list_executions(stateMachineArn=self.machine_arn, statusFilter="RUNNING")[
                "executions"
            ]
            if not running:
                return
            time.sleep(0.5)
        raise AssertionError("executions still running")

    def lake_records(self, date: str) -> list[dict[str, Any]]:
        """Every Parquet row of dt=<date> in the lake bucket (what Athena would read), read back with pyarrow."""
        s3 = self.aws.client("s3")
        listed = s3.list_objects_v2(Bucket=LAKE, Prefix=f"{OUTPUT_PREFIX}dt={date}/").get("Contents", [])
        rows: list[dict[str, Any]] = []
        for obj in listed:
            if obj["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=LAKE, Key=obj["Key"])["Body"].read()
                rows.extend(pq.read_table(io.BytesIO(body)).to_pylist())
        return rows

    def lake_keys(self, date: str, prefix: str = OUTPUT_PREFIX) -> list[str]:
        listed = (
            self.aws.client("s3")
            .list_objects_v2(Bucket=LAKE, Prefix=f"{prefix}dt={date}/")
            .get("Contents", [])
        )
        return sorted(o["Key"] for o in listed)

    def report(self, manifest_id: str) -> dict[str, Any]:
        body = self.aws.client("s3").get_object(
            Bucket=LAKE, Key=f"{OUTPUT_PREFIX}_reports/{manifest_id}.json"
        )["Body"]
        return json.loads(body.read())
