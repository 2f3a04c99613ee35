"""Bridges over the few gaps of moto (pinned in pyproject.toml) that the embedded AWS needs.

Every bridge is a small, named patch of one moto internal, in the module of its service (stepfunctions, glue,
awslambda, s3, sqs). `install()` applies them all once per process and checks
first that each one still applies to the installed moto: when moto changes the code a bridge wraps, start-up fails
with `MotoBridgeOutdated` naming the bridge instead of the pipeline misbehaving later.

| bridge | moto gap (moto 5.2.5) |
| --- | --- |
| sfn-terraform-actions | `ValidateStateMachineDefinition` and `ListStateMachineVersions` are missing; the Terraform AWS provider calls both for `aws_sfn_state_machine` and retries the 500s for minutes. |
| sfn-glue-sync-callback | `glue:startJobRun.sync` always fails with `States.Runtime`: the callback endpoint is None for Glue but is interrupted unconditionally. |
| sfn-glue-sync-output | the Glue job run returned by `.sync` carries datetimes, which `DescribeExecution` cannot JSON-encode. |
| sfn-sdk-s3-body | an `aws-sdk:s3:getObject` task hands the interpreter a botocore stream as `Body`; Step Functions returns the object's text, which `States.StringToJson($.Body)` needs. |
| glue-job-runs | a Glue job run executes nothing (STARTING -> RUNNING -> SUCCEEDED by itself): runs are handed to a `GlueRunner`, and their state follows its outcome. |
| glue-table-version-check | `UpdateTable` ignores `VersionId`, so two Iceberg commits from the same table version are both accepted and the later silently drops the earlier (a lost commit); AWS rejects the stale one with `ConcurrentModificationException`. |
| s3-event-version-id | S3 event notifications lack `versionId`; AWS sends it for versioned buckets, and the pipeline tracks and reads exactly that version. |
| lambda-invoke | Lambda needs Docker to run code: invocations are handed to a `LambdaInvoker` (in-process handlers). |
| sqs-compact-redrive-policy | `GetQueueAttributes` returns `RedrivePolicy` as JSON with spaces where AWS returns it compact, so every `terraform plan` after an apply shows a whitespace change. |
| sqs-counts-one-clock-read | every read of any queue attribute (each SendMessage reads one) recounts all messages and reads the clock twice per message: with a few thousand queued S3 notifications each PutObject and ReceiveMessage cost time in proportion to the queue's depth (docs/scaling.md#moto-sqs-counts). Same counts, one clock read per count. |
| sqs-retention-one-attribute | the retention check, three times per received message, computes every queue attribute (the counts above included) to read `MessageRetentionPeriod`: it reads that one attribute. |
| iam-resource-unnamed, iam-conditions-unevaluated, iam-action-names, iam-delete-objects-per-key, iam-signature-bodiless-requests, iam-denial-detail, sfn-service-credentials | moto's IAM check (on once Terraform has applied, docs/iam.md) matches every service but S3/SQS/IAM/STS against resource `*`, turns an Allow with a Condition into a deny, names a few actions after the API, checks DeleteObjects on the bucket, fails the signature of every bodiless GET, names no resource in its AccessDenied, and the Step Functions interpreter signs with a fixed key (`iam.py`). |
| sqs-esm-dispatch | moto's SQS event source mappings invoke the function inside SendMessage, one message at a time, and delete it whatever happens: disabled, so the embedded poller (with batch size, visibility timeout, partial failures and redrive) is the only consumer. |

Runners and invokers are process-wide (moto's backends are): `set_glue_runner` / `set_lambda_invoker` swap them.
The one check that a patch still applies is `check.require` (pipeline/embedded/bridges/check.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pipeline.embedded.bridges import awslambda, glue, iam, s3, sqs, stepfunctions
from pipeline.embedded.bridges.awslambda import LambdaFunctionError, LambdaInvoker, set_lambda_invoker
from pipeline.embedded.bridges.check import PINNED_MOTO_VERSION, MotoBridgeOutdated, installed_bridges
from pipeline.embedded.bridges.glue import (
    GlueAdmission,
    GlueRunFailed,
    GlueRunner,
    GlueRunRequest,
    GlueStartRejected,
    set_glue_runner,
)

__all__ = [
    "PINNED_MOTO_VERSION",
    "GlueAdmission",
    "GlueRunFailed",
    "GlueRunRequest",
    "GlueRunner",
    "GlueStartRejected",
    "LambdaFunctionError",
    "LambdaInvoker",
    "MotoBridgeOutdated",
    "install",
    "installed_bridges",
    "set_glue_runner",
    "set_lambda_invoker",
]

logger = logging.getLogger(__name__)

_install_lock = threading.Lock()
_done = threading.Event()

_BRIDGES: tuple[Callable[[], None], ...] = (
    stepfunctions.bridge_sfn_terraform_actions,
    stepfunctions.bridge_sfn_glue_sync_callback,
    stepfunctions.bridge_sfn_glue_sync_output,
    stepfunctions.bridge_sfn_sdk_s3_body,
    glue.bridge_glue_job_runs,
    glue.bridge_glue_table_version_check,
    awslambda.bridge_lambda_invoke,
    s3.bridge_s3_event_version_id,
    sqs.bridge_sqs_esm_dispatch,
    sqs.bridge_sqs_compact_redrive_policy,
    sqs.bridge_sqs_counts_one_clock_read,
    sqs.bridge_sqs_retention_one_attribute,
    *iam.BRIDGES,
)


def install() -> list[str]:
    """Apply every bridge once per process (idempotent); returns the names of the bridges in force."""
    with _install_lock:
        if _done.is_set():
            return installed_bridges()
        from importlib.metadata import version

        installed_version = version("moto")
        if installed_version != PINNED_MOTO_VERSION:
            logger.warning(
                "moto %s is installed; the bridges were verified with %s",
                installed_version,
                PINNED_MOTO_VERSION,
            )
        for bridge in _BRIDGES:
            bridge()
        _done.set()
        return installed_bridges()
