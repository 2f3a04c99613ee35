"""Fixtures shared by the whole suite.

One local SparkSession per test session (JVM start-up is the slowest thing we do).
Sub-folders add their own fixtures in their own conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Never let a test reach a real AWS account by accident.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)

# Packages whose tests share a package-scoped fixture (tests/infra: one applied Terraform stack).
_ONE_GROUP_PACKAGES = {"infra"}
# The longest groups (minutes each, mostly Terraform applies and whole pipeline runs) start first, so that on two
# workers no long group is left for the end while the other worker idles.
_LONG_GROUPS_FIRST = (
    "infra",
    "e2e/test_cli_safety.py",
    "e2e/test_embedded_pipeline.py",
    "e2e/test_cli_run_report.py",
    "reliability/test_concurrency.py",
    "e2e/test_pipeline_up.py",
    "e2e/test_run_signals.py",
)


def xdist_group_of(nodeid: str) -> str:
    """The pytest-xdist work unit of a test (`make test`: 2 workers): its package for the packages in
    _ONE_GROUP_PACKAGES, else its file. A unit runs on one worker, so each module's module-scoped stack (and
    tests/infra's package-scoped one) is set up once, as in a single process."""
    relative = nodeid.split("::", 1)[0].removeprefix("tests/")
    package = relative.split("/", 1)[0]
    return package if package in _ONE_GROUP_PACKAGES else relative


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

    config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems chose
    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the long groups first (each group's tests stay together and in their order)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {group: position for position, group in enumerate(_LONG_GROUPS_FIRST)}
    items.sort(key=lambda item: rank.get(xdist_group_of(item.nodeid), len(rank)))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pipeline.embedded.spark_session import local_spark_session

    session = local_spark_session(app_name="tests", shuffle_partitions=2)
    yield session
    session.stop()


_HARNESS_SUITES = ("ops", "reliability")  # tests/<suite>/: MiniStack (tests/ops/harness.py), IAM enforced


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start rendering Terraform's policies for the ops harness now, in the background (one subprocess per table
    format, ~65 s each, support/terraform_policies.py), when the run holds tests of a suite that needs them: the
    applies overlap the tests collected before them. The renders live under the run's shared temporary root (every
    pytest-xdist worker's parent), so the workers share them."""
    tests = Path(__file__).resolve().parent
    suites = {tests / suite for suite in _HARNESS_SUITES}
    harness_modules = {
        Path(item.path) for item in session.items if Path(item.path).resolve().parent in suites
    }
    if not harness_modules:
        return
    from support import terraform_policies

    if not os.environ.get(terraform_policies.ENV_ROOT):  # set: a folder of earlier renders, reused
        root = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        if os.environ.get("PYTEST_XDIST_WORKER"):
            root = root.parent  # every worker's basetemp is <run root>/popen-gwN
        terraform_policies.set_root(root / "terraform-policies")
    formats = ["parquet"]
    if any('table_format="iceberg"' in m.read_text(encoding="utf-8") for m in harness_modules):
        formats.append("iceberg")
    for table_format in formats:
        terraform_policies.start(table_format)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How long the tests waited for Terraform's policies (the renders' extra wall time), when any test did."""
    import sys

    module = sys.modules.get("support.terraform_policies")
    if module is not None and module.WAITED:
        terminalreporter.write_line(f"terraform policies for the ops harness: {module.summary()}")
