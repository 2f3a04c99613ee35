"""The pipeline on the Iceberg table format, under faults, with the invariant checker reading the committed table.

A mini stack (real handler, real ASL on moto's interpreter, the real job on local Spark) whose Glue job commits to an
Iceberg table in the embedded Glue catalog. After each case the checker holds: every landed line is a row of the
committed snapshot or a quarantined record exactly once, and every date reads back with one type per column.

- batches of one date that disagree on types: one table, convertible values converted, the rest quarantined;
- the job dies between writing its files and committing (every UpdateTable of the table refused): nothing is
  visible, the manifest fails; `pipeline retry` commits it once;
- the commit's answer is lost (UpdateTable succeeds, its answer times out): the job finds the manifest id in the
  table's snapshots and commits nothing more.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from ops.harness import DATABASE, GLUE_TABLE, OUTPUT_PATH, MiniStack

from glue_jobs.ndjson_to_parquet.iceberg import (
    SUMMARY_MANIFEST,
    CatalogAccess,
    TableRef,
    arrow_schema,
    load_table,
    open_catalog,
    snapshots_with,
)
from pipeline.checks import invariants
from pipeline.ops.retry import retry_manifest

from .checks import locations
from .faults import FAULTS, Rule

pytestmark = pytest.mark.spark
DAY = "2026-10-20"


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("reliability-iceberg"))
    mini.start(spark, {"TABLE_FORMAT": "iceberg"}, table_format="iceberg")
    yield mini
    mini.stop()


def _access(stack: MiniStack) -> CatalogAccess:
    endpoint = stack.aws.endpoint_url
    return CatalogAccess(endpoint, endpoint, "us-east-1", *stack.harness_keys())  # the test's own reads


def _table(stack: MiniStack):
    ref = TableRef(DATABASE, GLUE_TABLE, OUTPUT_PATH.rstrip("/"))
    table = load_table(open_catalog(ref, _access(stack)), ref)
    assert table is not None
    return table


def _holds(stack: MiniStack, *dates: str) -> invariants.InvariantReport:
    where = locations()
    where = invariants.Locations(
        **{**where.__dict__, "iceberg": invariants.IcebergTable(DATABASE, GLUE_TABLE, _access(stack))}
    )
    c = stack.aws.client
    report = invariants.check(
        c("s3"), c("dynamodb"), where, list(dates), input_prefixes=[f"raw/{d}/" for d in dates]
    )
    assert report.ok, report.summary()
    assert report.settled, report.summary()
    return report


def _drop(stack: MiniStack, date: str, name: str, records: list[dict]) -> None:
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    stack.drop(f"raw/{date}/{name}.ndjson", body)
    stack.deliver()
    stack.flush()


def test_batches_of_one_date_that_disagree_on_types_make_one_table(stack):
    _drop(stack, DAY, "a", [{"id": i, "amount": i * 10, "flag": i % 2 == 0} for i in range(40)])
    [first] = stack.wait_manifests_final(DAY, 1)
    stack.wait_executions_done()
    records = [{"id": 100 + i, "amount": str(i), "flag": "true"} for i in range(38)]
    records += [{"id": 200, "amount": "12.50", "flag": "true"}, {"id": 201, "amount": "7", "flag": "yes"}]
    _drop(stack, DAY, "b", records)
    manifests = stack.wait_manifests_final(DAY, 2)
    stack.wait_executions_done()
    assert {m["status"] for m in manifests} == {"completed"}, manifests
    second = next(m for m in manifests if m["manifest_id"] != first["manifest_id"])
    assert int(second["contract_quarantined"]) == 2 and int(second["values_converted"]) >= 38
    table = _table(stack)
    types = {f.name: str(f.type) for f in arrow_schema(table.schema())}
    assert types["amount"] == "int64" and types["flag"] == "bool"
    rows = table.scan(row_filter=f"dt == '{DAY}'").to_arrow().to_pylist()
    assert len(rows) == 78 and Counter(type(r["amount"]) for r in rows) == Counter({int: 78})
    for manifest in manifests:
        assert len(snapshots_with(table, SUMMARY_MANIFEST, manifest["manifest_id"])) == 1
    _holds(stack, DAY)


def test_a_job_that_cannot_commit_publishes_nothing_and_a_retry_commits_once(stack):
    day = "2026-10-21"
    refused = Rule("glue", "UpdateTable", code="InternalServiceException", status=500)
    with FAULTS.active(refused):
        _drop(stack, day, "c", [{"id": i, "amount": i, "flag": True} for i in range(25)])
        [failed] = stack.wait_manifests_final(day, 1, timeout=180)
        stack.wait_executions_done()
    assert failed["status"] == "failed" and refused.hits > 0
    assert "IcebergCommitFailed" in failed.get("job_error", "") + failed.get("cause", ""), failed
    table = _table(stack)
    assert table.scan(row_filter=f"dt == '{day}'").to_arrow().num_rows == 0  # written files are invisible
    retry_manifest(stack.ctx(), failed["manifest_id"])
    [done] = stack.wait_manifests_final(day, 1, timeout=180)
    stack.wait_executions_done()
    assert done["status"] == "completed", done
    table = _table(stack)
    assert len(snapshots_with(table, SUMMARY_MANIFEST, failed["manifest_id"])) == 1
    assert table.scan(row_filter=f"dt == '{day}'").to_arrow().num_rows == 25
    _holds(stack, day)


def test_a_lost_commit_answer_is_never_committed_twice(stack):
    day = "2026-10-22"
    lost = Rule("glue", "UpdateTable", kill="after", lose_answer=True, times=1)
    with FAULTS.active(lost):
        _drop(stack, day, "d", [{"id": i, "amount": i, "flag": False} for i in range(15)])
        [done] = stack.wait_manifests_final(day, 1, timeout=180)
        stack.wait_executions_done()
    assert lost.hits == 1
    assert done["status"] == "completed", done
    table = _table(stack)
    assert len(snapshots_with(table, SUMMARY_MANIFEST, done["manifest_id"])) == 1  # found again, not re-made
    assert table.scan(row_filter=f"dt == '{day}'").to_arrow().num_rows == 15
    _holds(stack, day)
