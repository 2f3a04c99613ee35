"""The start-up check every bridge goes through: one place says whether a patch still applies to the installed moto.

A bridge that no longer fits fails start-up with `MotoBridgeOutdated` naming the bridge, instead of the pipeline
misbehaving later. The names of the bridges in force are recorded here, in the order they were installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pipeline.contracts.errors import PipelineError

logger = logging.getLogger(__name__)

PINNED_MOTO_VERSION = "5.2.5"

_installed: list[str] = []


class MotoBridgeOutdated(PipelineError):
    """The installed moto no longer has the code a bridge patches."""

    error_name = "MotoBridgeOutdated"


def require(condition: bool, bridge: str, what: str) -> None:
    if not condition:
        raise MotoBridgeOutdated(
            f"The moto bridge '{bridge}' no longer applies to the installed moto ({what}); "
            f"this project is verified with moto=={PINNED_MOTO_VERSION}: reinstall it with `make setup`."
        )


def require_method(owner: type, attribute: str, bridge: str) -> Callable[..., Any]:
    """The method a bridge wraps; `MotoBridgeOutdated` when moto no longer has it."""
    original = getattr(owner, attribute, None)
    require(callable(original), bridge, f"{owner.__name__}.{attribute} is gone")
    return original  # type: ignore[return-value]


def mark_installed(bridge: str) -> None:
    _installed.append(bridge)


def installed_bridges() -> list[str]:
    return list(_installed)
