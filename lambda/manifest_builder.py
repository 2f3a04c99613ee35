"""Manifest builder Lambda: SQS batches of S3 notifications, the scheduled flush and the state machine's status
updates. Thin: configuration is read and validated at cold start; the logic lives in ``pipeline``."""

from __future__ import annotations

import os
from typing import Any

from pipeline.control_plane.bootstrap import build_app, handle_event
from pipeline.control_plane.config import ControlPlaneConfig

CONFIG = ControlPlaneConfig.from_env(os.environ)
APP = build_app(CONFIG)


@APP.logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(APP, event, context)
