"""What the load run watches while it runs: stage times and the follow loop's snapshots, memory, the embedded
AWS's 500s; and the small time helpers the analysis shares."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any


class LoadReporter:
    """A PipelineRun Reporter that keeps stage wall-clock times and the follow loop's snapshots."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.timeline: list[dict[str, Any]] = []
        self._last_print = 0.0

    def stage_started(self, name: str, description: str) -> None:
        self.stages[name] = {"started": time.time()}
        print(f"[{clock()}] {description}", file=sys.stderr, flush=True)

    def stage_finished(self, name: str, seconds: float) -> None:
        self.stages.setdefault(name, {})["finished"] = time.time()
        self.stages[name]["seconds"] = seconds
        print(f"[{clock()}] {name} done in {seconds:.1f} s", file=sys.stderr, flush=True)

    def progress(self, snapshot: Any) -> None:
        now = time.time()
        self.timeline.append(
            {
                "t": now,
                "tracked": snapshot.files_tracked,
                "completed": snapshot.files_completed,
                "manifests": snapshot.manifests_started,
                "manifests_final": snapshot.manifests_final,
                "glue_runs_done": snapshot.glue_runs_done,
            }
        )
        if now - self._last_print >= 15:
            self._last_print = now
            print(
                f"[{clock()}] tracked {snapshot.files_tracked}/{snapshot.files_total}, "
                f"manifests {snapshot.manifests_started} ({snapshot.manifests_final} final), "
                f"glue runs done {snapshot.glue_runs_done}, completed {snapshot.files_completed}",
                file=sys.stderr,
                flush=True,
            )

    def note(self, message: str) -> None:
        print(f"[{clock()}] {message}", file=sys.stderr, flush=True)


class MemorySampler:
    """Peak RSS of this process and of its process tree (the JVM and Spark's Python workers), every second."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak_process = 0
        self.peak_tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="load-memory-sampler")

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        import psutil

        while not self._stop.wait(1.0):
            try:
                own = self._process.memory_info().rss
                tree = own
                for child in self._process.children(recursive=True):
                    try:
                        tree += child.memory_info().rss
                    except psutil.Error:
                        continue
            except psutil.Error:
                continue
            self.peak_process = max(self.peak_process, own)
            self.peak_tree = max(self.peak_tree, tree)


def quiet_logging(log_dir: Path) -> None:
    """As the CLI: the process log to <workdir>/logs/pipeline.log, the HTTP server's access lines off."""
    import logging

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "py4j", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "pipeline.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s %(message)s"))
    root.addHandler(handler)


def server_errors(log: Path) -> dict[str, int]:
    """Requests the embedded AWS answered with a 500 (werkzeug logs each with its traceback), by exception."""
    found: Counter[str] = Counter()
    if not log.exists():
        return {}
    in_error = False
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "werkzeug Error on request" in line:
            in_error = True
        elif in_error and line and not line.startswith((" ", "Traceback")):
            found[line.strip()[:160]] += 1
            in_error = False
    return dict(found)


def clock() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S")


def to_epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 3)}
