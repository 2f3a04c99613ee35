"""The run's metrics: one EMF (Embedded Metric Format) line on stdout, which is the job's CloudWatch log on Glue,
formatted from the job report by ``pipeline.contracts.metrics`` (the names the dashboard and alarms use).

Printed for runs that wrote a report (succeeded, or failed on the bad-record ratio), only with
``--METRICS_NAMESPACE``. ``sink_to`` lets a host that runs the job in its own process (the embedded AWS) receive
the line as well.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.contracts.metrics import glue_emf_line

from .args import JobArgs


def _print(line: str) -> None:
    print(line, flush=True)


_sinks: list[Callable[[str], None]] = [_print]


@contextlib.contextmanager
def sink_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Where the lines go instead of stdout while a host runs the job in its own process (the embedded Glue runner
    writes them to its log and CloudWatch); stdout again afterwards."""
    previous = list(_sinks)
    _sinks[:] = [sink]
    try:
        yield
    finally:
        _sinks[:] = previous


def emf_line(args: JobArgs, report: dict[str, Any], now_ms: int | None = None) -> str | None:
    if not args.metrics_namespace:
        return None
    return glue_emf_line(
        args.metrics_namespace, report, int(time.time() * 1000) if now_ms is None else now_ms
    )


def emit_metrics(args: JobArgs, report: dict[str, Any]) -> str | None:
    line = emf_line(args, report)
    if line is not None:
        for sink in _sinks:
            sink(line)
    return line
