"""The Glue bridge: a moto job run executes nothing by itself, so runs are handed to a `GlueRunner` (the real job on
the local SparkSession) and their state follows its outcome. The runner is process-wide (moto's backends are):
`set_glue_runner` swaps it."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.contracts.errors import PipelineError
from pipeline.embedded.bridges.check import mark_installed, require, require_method

logger = logging.getLogger(__name__)


class GlueRunFailed(PipelineError):
    """Raised by a GlueRunner: the job run ends FAILED with this message (the ASL Catch sees States.TaskFailed)."""


class GlueStartRejected(PipelineError):
    """Raised by a GlueRunner's admission check: StartJobRun itself fails with `code` (e.g. ConcurrentRunsExceededException)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message  # str() stays "<code>: <message>"


@dataclass(frozen=True)
class GlueRunRequest:
    job_name: str
    run_id: str
    arguments: dict[str, str] = field(default_factory=dict)


GlueRunner = Callable[[GlueRunRequest], None]
GlueAdmission = Callable[[GlueRunRequest], None]


@dataclass
class _Hooks:
    runner: GlueRunner | None = None
    admission: GlueAdmission | None = None


_hooks = _Hooks()


def set_glue_runner(runner: GlueRunner | None, admission: GlueAdmission | None = None) -> None:
    """Hand every new moto Glue job run to `runner` (in a background thread); `admission` may reject the start.

    With no runner, job runs keep moto's own behaviour (they succeed by themselves).
    """
    _hooks.runner = runner
    _hooks.admission = admission


def bridge_glue_job_runs() -> None:
    from moto.glue.exceptions import GlueClientError
    from moto.glue.models import FakeJob, FakeJobRun

    name = "glue-job-runs"
    require(callable(getattr(FakeJob, "start_job_run", None)), name, "FakeJob.start_job_run is gone")
    require(
        isinstance(inspect.getattr_static(FakeJobRun, "status", None), property),
        name,
        "FakeJobRun.status is not a property any more",
    )
    require(callable(getattr(FakeJobRun, "as_dict", None)), name, "FakeJobRun.as_dict is gone")

    original_start = FakeJob.start_job_run
    original_status: property = inspect.getattr_static(FakeJobRun, "status")
    original_as_dict = FakeJobRun.as_dict

    def start_job_run(self: Any, *args: Any, **kwargs: Any) -> str:
        if _hooks.admission is not None:
            arguments = dict(self.default_arguments or {})
            arguments.update(kwargs.get("arguments") or {})
            try:
                _hooks.admission(GlueRunRequest(job_name=self.name, run_id="", arguments=arguments))
            except GlueStartRejected as rejected:
                raise GlueClientError(rejected.code, rejected.message) from None
        run_id = original_start(self, *args, **kwargs)
        runner = _hooks.runner
        if runner is None:
            return run_id
        run = next(jr for jr in self.job_runs if jr.job_run_id == run_id)
        run._bridge_state = "RUNNING"
        run._bridge_error = None
        run.completed_on = None
        request = GlueRunRequest(job_name=self.name, run_id=run_id, arguments=dict(run.arguments or {}))
        threading.Thread(
            target=_execute_run, args=(runner, run, request), daemon=True, name=f"glue-run-{run_id[:12]}"
        ).start()
        return run_id

    def status_get(self: Any) -> str | None:
        bridged = getattr(self, "_bridge_state", None)
        return bridged if bridged is not None else original_status.fget(self)  # type: ignore[misc]

    def status_set(self: Any, value: str) -> None:
        if getattr(self, "_bridge_state", None) is not None:
            self._bridge_state = value
        else:
            original_status.fset(self, value)  # type: ignore[misc]

    def as_dict(self: Any) -> dict[str, Any]:
        result = original_as_dict(self)
        if getattr(self, "_bridge_state", None) is not None:
            if self.completed_on is None:
                result.pop("CompletedOn", None)
            result["ExecutionTime"] = int(((self.completed_on or _now()) - self.started_on).total_seconds())
            result["GlueVersion"] = getattr(self, "_bridge_glue_version", None) or result.get("GlueVersion")
            if self._bridge_error:
                result["ErrorMessage"] = self._bridge_error
        return result

    FakeJob.start_job_run = start_job_run  # type: ignore[method-assign]
    FakeJobRun.status = property(status_get, status_set)  # type: ignore[assignment,method-assign]
    FakeJobRun.as_dict = as_dict  # type: ignore[method-assign]
    mark_installed(name)


def _now() -> dt.datetime:
    from moto.core.utils import utcnow

    return utcnow()


def _execute_run(runner: GlueRunner, run: Any, request: GlueRunRequest) -> None:
    started = time.monotonic()
    try:
        runner(request)
    except GlueRunFailed as failed:
        run._bridge_error = str(failed) or "The job run failed."
        run._bridge_state = "FAILED"
    except Exception as exc:  # a runner crash is a failed run, never a stuck one
        logger.exception("Glue run %s crashed in the embedded runner", request.run_id)
        run._bridge_error = f"{type(exc).__name__}: {exc}"
        run._bridge_state = "FAILED"
    else:
        run._bridge_state = "SUCCEEDED"
    finally:
        run.completed_on = _now()
        logger.debug(
            "Glue run %s ended %s after %.1fs", request.run_id, run._bridge_state, time.monotonic() - started
        )


_table_update_lock = threading.Lock()


def bridge_glue_table_version_check() -> None:
    """UpdateTable honours `VersionId` atomically, as AWS Glue does (optimistic locking of table commits).

    moto ignores the parameter: two Iceberg commits that read the same table version would both be accepted and
    the second would silently replace the first's metadata pointer (a lost commit). With the bridge, an update
    whose VersionId is not the table's current version fails with ConcurrentModificationException, which
    pyiceberg turns into a retried CommitFailedException."""
    from moto.glue.exceptions import GlueClientError
    from moto.glue.responses import GlueResponse

    name = "glue-table-version-check"
    original = require_method(GlueResponse, "update_table", name)

    def update_table(self: Any) -> Any:
        version_id = self.parameters.get("VersionId")
        with _table_update_lock:
            if version_id is not None:
                table_input = self.parameters.get("TableInput") or {}
                table = self.glue_backend.get_table(
                    self.parameters.get("DatabaseName"), table_input.get("Name")
                )
                current = str(getattr(table, "_current_version", ""))
                if current and str(version_id) != current:
                    raise GlueClientError(
                        "ConcurrentModificationException",
                        f"Table version {version_id} is not the current version {current}",
                    )
            return original(self)

    GlueResponse.update_table = update_table  # type: ignore[method-assign]
    mark_installed(name)
