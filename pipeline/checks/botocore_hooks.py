"""Process-wide observers of every AWS call made through botocore (the fault injector of the reliability tests, the
call counter of the load bench).

botocore copies ``botocore.handlers.BUILTIN_HANDLERS`` into each session it creates, so an observer appended there
before the first session exists sees the calls of every client of the process: the code under test, its threads
and the embedded AWS's own in-process clients alike. No code of ours is patched.
"""

from __future__ import annotations

from typing import Any

import botocore.handlers

EVENTS = ("before-parameter-build", "before-call", "after-call")


def install(observer: Any) -> None:
    """Append ``observer._remember_params``, ``._before_call`` and ``._after_call`` to botocore's built-in handlers
    (for ``before-parameter-build``, ``before-call`` and ``after-call``), once per observer."""
    specs = botocore.handlers.BUILTIN_HANDLERS
    if any(getattr(handler, "__self__", None) is observer for _, handler, *_ in specs):
        return
    for event, method in zip(EVENTS, ("_remember_params", "_before_call", "_after_call"), strict=True):
        specs.append((event, getattr(observer, method)))
