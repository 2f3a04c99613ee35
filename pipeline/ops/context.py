"""What every operator command needs: the AWS session, the stack's names, and the control plane configured exactly
as the deployed manifest builder Lambda is (its own environment, read back with GetFunctionConfiguration), so that
`reconcile`, `retry`, `backfill` and `replay` run the Lambda's code paths with the Lambda's settings.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.errors import InvalidConfiguration
from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code
from pipeline.control_plane.adapters.executions import Executions
from pipeline.control_plane.adapters.manifest_store import ManifestStore
from pipeline.control_plane.adapters.tracking import TrackingTable
from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.service import ControlPlane
from pipeline.ops.aws import AwsSession
from pipeline.ops.errors import StackNameMissing, StackOutputsInvalid
from pipeline.ops.stack_names import StackNames

# The control plane logs with `extra=`; a standard logger accepts that, and keeps the CLI's stdout clean.
CONTROL_PLANE_LOGGER = logging.getLogger("pipeline.ops.control_plane")


@dataclass
class OpsContext:
    aws: AwsSession
    stack: StackNames
    _config: ControlPlaneConfig | None = field(default=None, init=False, repr=False)

    # -- clients --------------------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        return self.aws.client(service)

    @property
    def ddb(self) -> Any:
        return self.client("dynamodb")

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=8, max_delay=5.0)

    # -- control plane ----------------------------------------------------------------------------------------
    def function_environment(self) -> dict[str, str] | None:
        if not self.stack.function_name:
            return None
        response = self.client("lambda").get_function_configuration(FunctionName=self.stack.function_name)
        return dict(response.get("Environment", {}).get("Variables", {}))

    def config(self) -> ControlPlaneConfig:
        """The Lambda's own configuration when the function is known, else one built from the stack's names."""
        if self._config is not None:
            return self._config
        try:
            env = self.function_environment()
        except ClientError as exc:
            if error_code(exc) not in ("AccessDeniedException", "AccessDenied", "ResourceNotFoundException"):
                raise
            # Without lambda:GetFunctionConfiguration (or a renamed function), the stack's names and the
            # documented defaults stand in; flags such as --pending-shards must then match the deployment.
            logging.getLogger(__name__).warning(
                "cannot read the manifest builder's configuration (%s); using the stack's names",
                error_code(exc),
            )
            env = None
        if env is None:
            self.stack.require("tracking_table", "manifest_bucket", "state_machine_arn")
            env = {
                "TRACKING_TABLE": self.stack.get("tracking_table"),
                "MANIFEST_BUCKET": self.stack.get("manifest_bucket"),
                "STATE_MACHINE_ARN": self.stack.get("state_machine_arn"),
                "MANIFEST_PREFIX": self.stack.manifest_prefix,
                "PENDING_SHARDS": str(self.stack.pending_shards),
                "REPAIR_GRACE_SECONDS": str(self.stack.repair_grace_seconds),
            }
        try:
            config = ControlPlaneConfig.from_env(env)
        except InvalidConfiguration as exc:
            raise StackOutputsInvalid(
                f"The manifest builder's configuration is not usable: {exc.message}."
            ) from exc
        # Flags naming another table or state machine win (e.g. a staging copy of the stack).
        overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("tracking_table", self.stack.tracking_table),
                ("state_machine_arn", self.stack.state_machine_arn),
                ("manifest_bucket", self.stack.manifest_bucket),
            )
            if value
        }
        self._config = dataclasses.replace(config, **overrides)
        return self._config

    @property
    def table_name(self) -> str:
        if self.stack.tracking_table:
            return self.stack.tracking_table
        return self.config().tracking_table

    @property
    def state_machine_arn(self) -> str:
        if self.stack.state_machine_arn:
            return self.stack.state_machine_arn
        return self.config().state_machine_arn

    def tracking(
        self,
        config: ControlPlaneConfig | None = None,
        table_class: type[TrackingTable] = TrackingTable,
        **extra: Any,
    ) -> TrackingTable:
        config = config or self.config()
        return table_class(self.ddb, config.tracking_table, self.retry, config.pending_shards, **extra)

    def executions(self) -> Executions:
        return Executions(self.client("stepfunctions"), self.state_machine_arn, self.retry)

    def manifest_store(self, config: ControlPlaneConfig | None = None) -> ManifestStore:
        config = config or self.config()
        return ManifestStore(self.client("s3"), config.manifest_bucket, config.manifest_prefix, self.retry)

    def control_plane(
        self, config: ControlPlaneConfig | None = None, table: TrackingTable | None = None
    ) -> ControlPlane:
        config = config or self.config()
        return ControlPlane(
            config=config,
            table=table or self.tracking(config),
            store=self.manifest_store(config),
            executions=self.executions(),
            logger=CONTROL_PLANE_LOGGER,
        )

    def require_output_path(self) -> str:
        if not self.stack.output_path:
            raise StackNameMissing(
                "The output location is unknown: pass --output-path s3://bucket/prefix/ or the stack outputs."
            )
        return self.stack.output_path
