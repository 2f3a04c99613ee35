"""Status update Lambda for those who deploy it apart from the manifest builder: accepts only
``{"action": "complete", "manifest_id", "date_prefix", "status", "error"?, "cause"?, "report"?, "report_path"?}``."""

from __future__ import annotations

import os
from typing import Any

from pipeline.contracts.errors import InvalidEvent
from pipeline.control_plane.bootstrap import build_app, handle_event
from pipeline.control_plane.config import ControlPlaneConfig

CONFIG = ControlPlaneConfig.from_env(os.environ)
APP = build_app(CONFIG)


@APP.logger.inject_lambda_context(log_event=False, clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or event.get("action") != "complete":
        raise InvalidEvent("this function only accepts {'action': 'complete', ...}")
    return handle_event(APP, event, context)
