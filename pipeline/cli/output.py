"""Where the `pipeline` command writes, and the one way an error becomes a printed line and an exit status.

Every command ends a failure the same way (`fail`): `error[<error_name>]: <sentence>` on stderr, `fix: <fix>` when
the error carries one, and the error's exit code (2: nothing was started, 1: it failed). The two guards only
decide which `PipelineError` to show: `guarded` (embedded commands) turns an unexpected exception into one that
points at the log, `guarded_ops` (operator commands) names the botocore failures (no credentials, no region, an
unreachable endpoint, a refused call). Ctrl-C exits 130 in both.
"""

from __future__ import annotations

import errno
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from pipeline.contracts.errors import PipelineError
from pipeline.ops.errors import AwsCallFailed

T = TypeVar("T")

# Embedded commands (demo, run, up, query, build-lambda): rich layout, wrapped to the terminal.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
# Operator commands: one line per fact, greppable and copy-pastable.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(error: PipelineError, stderr: Console = err_console) -> typer.Exit:
    """THE mapper: print the error's line (and its fix) and return the `typer.Exit` of its exit code."""
    stderr.print(f"[bold red]error[{error.error_name}][/]: {error.message}", markup=True)
    if error.fix:
        stderr.print(f"[bold]fix[/]: {error.fix}", markup=True)
    return typer.Exit(error.exit_code)


def see_log(log_file: Path | None) -> str:
    return f"The details are in {log_file}." if log_file else "Run again with --verbose for details."


def guarded(body: Callable[[], T], log_file: Path | None = None) -> T:
    """Run a command body, turning every failure into one clear sentence and an exit status."""
    try:
        return body()
    except KeyboardInterrupt as exc:
        # One line (never wrapped into several): what the command had done, how to go on. `str(exc)` is that
        # sentence when the command said it (pipeline/cli/embedded.py `_finish`).
        detail = str(exc) or "interrupted: the embedded AWS was stopped."
        err_console.print(detail, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    except OSError as exc:
        logging.getLogger("pipeline").exception("command failed")
        if exc.errno == errno.ENOSPC:
            from pipeline.embedded.preflight import disk_full_error

            raise fail(disk_full_error(Path(exc.filename or "."))) from None
        raise fail(PipelineError.named("OSError", f"{exc}.", see_log(log_file))) from None
    except Exception as exc:
        if isinstance(exc, PipelineError) and exc.actionable:
            raise fail(exc) from None
        logging.getLogger("pipeline").exception("command failed")
        # getattr: the Glue job's JobError has a name without deriving from PipelineError (yet).
        name = getattr(exc, "error_name", None) or type(exc).__name__
        raise fail(PipelineError.named(str(name), f"{exc}".rstrip(".") + ".", see_log(log_file))) from None


def _aws_call_failed(exc: Exception) -> AwsCallFailed:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "an AWS call")
    code = error.get("Code") or "Unknown"
    message = str(error.get("Message") or "").strip().splitlines()[0:1]
    return AwsCallFailed(f"{operation} failed with {code}" + (f": {message[0]}" if message else "") + ".")


def guarded_ops(body: Callable[[], T]) -> T:
    """Run an operator command body; turn every error into `error[Name]: sentence` on stderr and exit status 1."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        return body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err.print("interrupted: every step is recorded, so running the command again continues safely.")
        raise typer.Exit(130) from None
    except NoCredentialsError:
        error: PipelineError = PipelineError.named(
            "NoCredentials",
            "No AWS credentials were found: configure the credential chain (AWS_PROFILE, SSO, environment) or "
            "point --endpoint-url at the embedded AWS.",
        )
    except NoRegionError:
        error = PipelineError.named(
            "NoRegion", "No AWS region is configured: pass --region or set AWS_REGION."
        )
    except EndpointConnectionError as exc:
        error = PipelineError.named(
            "EndpointUnreachable", f"Cannot reach the AWS endpoint ({exc.kwargs.get('endpoint_url')})."
        )
    except ClientError as exc:
        error = _aws_call_failed(exc)
    except BotoCoreError as exc:
        error = AwsCallFailed(f"{type(exc).__name__}: {exc}.")
    except PipelineError as exc:
        error = exc
    raise fail(error, err)


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress | None]:
    """A transient progress bar on a terminal's stderr; None in pipes, CI logs and with --json."""
    if not enabled or not err.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        yield progress


@contextmanager
def spinner(description: str) -> Iterator[None]:
    """A spinner on a terminal's stderr while the block runs (nothing in pipes and CI logs)."""
    if not err.is_terminal:
        yield
        return
    with err.status(description):
        yield


@contextmanager
def progress_ticks(
    description: str, total: int | None, enabled: bool = True
) -> Iterator[Callable[..., None]]:
    """`tick(completed, total=None)` moving one progress bar (a no-op where `progress_bar` shows none)."""
    with progress_bar(enabled) as progress:
        task = progress.add_task(description, total=total) if progress else None

        def tick(completed: int, total: int | None = None) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=completed, total=total)

        yield tick


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
