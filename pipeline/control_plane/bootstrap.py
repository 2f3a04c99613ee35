"""Wiring and event routing of the manifest builder Lambda: the handlers in ``lambda/`` stay thin.

``build_service`` creates the adapters from a validated config (tests pass their own config, clock and boto3
session); ``handle_event`` routes one invocation: SQS batches of S3 notifications, ``{"action": "flush"}`` (or an
EventBridge scheduled event) and ``{"action": "complete", ...}``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.config import Config

from pipeline.contracts.errors import InvalidEvent, PipelineError
from pipeline.contracts.metrics import LAMBDA_SERVICE, NAMESPACE_ENV
from pipeline.control_plane.adapters.backoff import RetryPolicy
from pipeline.control_plane.adapters.catalog import CatalogTarget, GlueCatalog
from pipeline.control_plane.adapters.executions import Executions
from pipeline.control_plane.adapters.job_reports import JobReports
from pipeline.control_plane.adapters.manifest_store import ManifestStore
from pipeline.control_plane.adapters.tracking import TrackingTable
from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.deadline import Deadline
from pipeline.control_plane.domain.events import parse_complete
from pipeline.control_plane.domain.times import utc_now
from pipeline.control_plane.ingest import IngestSession
from pipeline.control_plane.metrics import MetricsRecorder
from pipeline.control_plane.service import ControlPlane

SERVICE_NAME = LAMBDA_SERVICE

# Our RetryPolicy does the retrying (backoff with jitter within the invocation's time), so botocore does not.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=20,
)


def make_logger(config: ControlPlaneConfig) -> Logger:
    logger = Logger(service=SERVICE_NAME, level=config.log_level)
    # powertools configures a logger name once per process: apply the level of this configuration anyway
    logger.setLevel(config.log_level)
    return logger


class App:
    """A configured service plus the per-invocation deadline."""

    def __init__(self, service: ControlPlane, deadline: Deadline, logger: Logger) -> None:
        self.service = service
        self.deadline = deadline
        self.logger = logger

    @property
    def metrics(self) -> MetricsRecorder:
        """Its ``emit`` (``print``) is where the EMF line goes; the embedded AWS tees it into CloudWatch."""
        return self.service.metrics


def build_app(
    config: ControlPlaneConfig,
    session: boto3.session.Session | None = None,
    logger: Logger | None = None,
    clock: Callable[[], datetime] = utc_now,
    endpoint_url: str | None = None,
) -> App:
    session = session or boto3.session.Session()
    logger = logger or make_logger(config)
    deadline = Deadline()
    retry = RetryPolicy(remaining=deadline.remaining)

    def client(name: str) -> Any:
        return session.client(name, config=CLIENT_CONFIG, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    # Iceberg: the job creates and commits the table; registering a Hive table of that name would clobber it.
    target = CatalogTarget.from_env(os.environ) if config.registers_catalog_partitions else None
    catalog = GlueCatalog(target, client("glue")) if target is not None else None

    s3 = client("s3")
    service = ControlPlane(
        config=config,
        table=TrackingTable(client("dynamodb"), config.tracking_table, retry, config.pending_shards),
        store=ManifestStore(s3, config.manifest_bucket, config.manifest_prefix, retry),
        executions=Executions(client("stepfunctions"), config.state_machine_arn, retry),
        logger=logger,
        clock=clock,
        remaining_seconds=deadline.remaining,
        catalog=catalog,
        reports=JobReports(s3, retry),
        metrics=MetricsRecorder(os.environ.get(NAMESPACE_ENV), SERVICE_NAME),
    )
    return App(service, deadline, logger)


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def _is_schedule(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def handle_event(app: App, event: Any, context: Any) -> dict[str, Any]:
    """Route one invocation. Errors that cross the boundary are ``PipelineError``s with a stable name.
    The invocation's metrics are written (one EMF line) when it ends, also when it fails."""
    app.deadline.start(context)
    try:
        return _route(app, event, context)
    finally:
        try:
            app.metrics.flush()
        except Exception as exc:  # metrics never fail (nor hide the error of) the invocation
            app.logger.warning("metrics not written", extra={"cause": f"{type(exc).__name__}: {exc}"})


def _route(app: App, event: Any, context: Any) -> dict[str, Any]:
    if _is_sqs_batch(event):
        return handle_sqs(app, event, context)
    if not isinstance(event, dict):
        raise InvalidEvent("the event is not a JSON object")
    action = event.get("action")
    if action == "flush" or (action is None and _is_schedule(event)):
        app.logger.debug("flush requested")
        return app.service.flush().to_dict()
    if action == "complete":
        request = parse_complete(event)
        app.logger.debug(
            "status update received", extra={"manifest_id": request.manifest_id, "status": request.status}
        )
        return app.service.complete(request)
    raise InvalidEvent(
        "unsupported event: expected an SQS batch, {'action': 'flush'} or {'action': 'complete', ...}"
    )


def handle_sqs(app: App, event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    app.logger.debug("sqs batch received", extra={"messages": len(records)})
    session = app.service.ingest_session()
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        _handle_message(app, session, record)

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    started = session.close()
    failures = response.get("batchItemFailures", [])
    app.logger.debug(
        "sqs batch done",
        extra={
            "messages": len(records),
            "tracked": session.outcome.tracked,
            "duplicates": session.outcome.duplicates,
            "ignored": session.outcome.ignored,
            "failed_messages": len(failures),
            "manifests_started": len(started),
        },
    )
    return dict(response)


def _handle_message(app: App, session: IngestSession, record: SQSRecord) -> None:
    try:
        session.handle_message(record.body)
    except InvalidEvent as exc:
        # Retried by SQS, then moved to the DLQ: never quote the body.
        app.logger.warning(
            "message rejected",
            extra={"error": exc.error_name, "reason": exc.message, "message_id": record.message_id},
        )
        raise
    except PipelineError as exc:
        app.logger.error(
            "message failed",
            extra={"error": exc.error_name, "reason": exc.message, "message_id": record.message_id},
        )
        raise
