"""A date converted by the pipeline is registered in the Glue catalog, then replayed under new manifests: the
catalog switches from the old output to the new one in one step, and exactly one copy of each record remains."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipeline.cli.ops import ops_app
from pipeline.control_plane.adapters.catalog import register_manifest_output
from pipeline.ops.errors import DateBusy
from pipeline.ops.replay import replay
from pipeline.ops.status import collect

from .harness import (
    BAD_PATH,
    DATABASE,
    GLUE_TABLE,
    LAKE,
    OUTPUT_PATH,
    OUTPUT_PREFIX,
    QUARANTINE_PREFIX,
    MiniStack,
    ndjson,
)

DAY = "2026-10-10"


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("ops-replay")).start(spark, {"MAX_FILES_PER_MANIFEST": "2"})
    yield mini
    mini.stop()


def _local_rows(folder: Path) -> list[dict]:
    return [row for path in sorted(folder.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def test_catalog_then_replay_leaves_one_copy_of_each_record(stack):
    stack.drop(f"raw/{DAY}/a.ndjson", ndjson(DAY, "a", 30, bad_lines=1))
    stack.drop(f"raw/{DAY}/b.ndjson", ndjson(DAY, "b", 10))
    stack.drop(f"raw/{DAY}/c.ndjson", ndjson(DAY, "c", 25))
    stack.drop(f"raw/{DAY}/d.ndjson", ndjson(DAY, "d", 5))
    stack.deliver()  # two full batches of two files start from the SQS path
    old = stack.wait_manifests_final(DAY, 2)
    assert {m["status"] for m in old} == {"completed"}
    old_ids = {m["manifest_id"] for m in old}
    stack.wait_executions_done()

    # What the status update's `completed` path does after each manifest: register the output in the catalog.
    glue = stack.aws.client("glue")
    for manifest_id in sorted(old_ids):
        register_manifest_output(glue, DATABASE, GLUE_TABLE, OUTPUT_PATH, DAY, stack.report(manifest_id))
    table = glue.get_table(DatabaseName=DATABASE, Name=GLUE_TABLE)["Table"]
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    [partition] = glue.get_partitions(DatabaseName=DATABASE, TableName=GLUE_TABLE)["Partitions"]
    assert partition["Values"] == [DAY]
    location = partition["StorageDescriptor"]["Location"]
    assert location == f"{OUTPUT_PATH}dt={DAY}/"
    # The partition matches the files: its location holds exactly the reports' output files, whose Parquet
    # schema is the catalog's columns.
    reported = sorted(Path(f).name for m in old_ids for f in stack.report(m)["output_files"])
    keys = stack.lake_keys(DAY)
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == reported
    s3 = stack.aws.client("s3")
    for key in keys:
        schema = pq.read_schema(io.BytesIO(s3.get_object(Bucket=LAKE, Key=key)["Body"].read()))
        assert [n.lower() for n in schema.names] == columns
    assert {"_source_file", "_manifest_id", "_ingested_at"} <= set(columns)

    rows = stack.lake_records(DAY)
    assert len(rows) == 70 and len({r["event_id"] for r in rows}) == 70
    assert len(stack.lake_keys(DAY, QUARANTINE_PREFIX)) == 1  # the corrupt line, under its manifest

    # Replay through the CLI, with the embedded lake kept in step; watch the catalog during the run.
    seen_locations: set[str] = set()
    original = stack.glue.__call__ if stack.glue else None

    def watch_glue(request):
        seen_locations.add(
            glue.get_partition(DatabaseName=DATABASE, TableName=GLUE_TABLE, PartitionValues=[DAY])[
                "Partition"
            ]["StorageDescriptor"]["Location"]
        )
        return original(request)

    from pipeline.embedded import bridges as moto_bridges

    moto_bridges.set_glue_runner(watch_glue)
    try:
        common = [
            "--outputs",
            str(stack.outputs_file()),
            "--endpoint-url",
            stack.aws.endpoint_url,
            "--lake",
            str(stack.workdir / "lake"),
            "--quarantine",
            str(stack.workdir / "quarantine"),
        ]
        # --no-wait: snapshot, reset and first batches, then return (as if the operator's laptop went away) ...
        started = CliRunner(env=stack.operator_env()).invoke(
            ops_app, ["replay", "--date", DAY, "--no-wait", "--json", *common]
        )
        assert started.exit_code == 0, started.output + started.stderr
        assert json.loads(started.stdout)["status"] == "running"
        # ... and the same command later follows it to the end (resumed from the REPLAY item).
        result = CliRunner(env=stack.operator_env()).invoke(
            ops_app, ["replay", "--date", DAY, "--json", *common]
        )
    finally:
        moto_bridges.set_glue_runner(stack.glue)
    assert result.exit_code == 0, result.output + result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "completed" and set(document["old_manifests"]) == old_ids
    assert document["resumed"] and document["replay_id"] == json.loads(started.stdout)["replay_id"]
    new_ids = set(document["new_manifests"])
    assert len(new_ids) == 2 and not new_ids & old_ids
    assert document["files"] == 4 and document["completed_files"] == 4 and document["catalog_swapped"]
    # While the new runs ran, Athena/Spark read the snapshot of the old output, never the half-rebuilt date.
    replay_id = document["replay_id"]
    assert seen_locations == {f"{OUTPUT_PATH}_replays/{replay_id}/dt={DAY}/"}

    # Exactly one copy of each record, all from the new manifests: in S3, in the local lake, in quarantine.
    rows = stack.lake_records(DAY)
    assert len(rows) == 70 and len({r["event_id"] for r in rows}) == 70
    assert {r["_manifest_id"] for r in rows} == new_ids
    local = _local_rows(stack.workdir / "lake" / f"dt={DAY}")
    assert sorted(r["event_id"] for r in local) == sorted(r["event_id"] for r in rows)
    [bad_key] = stack.lake_keys(DAY, QUARANTINE_PREFIX)
    assert any(f"manifest_id={m}/" in bad_key for m in new_ids)
    assert (
        s3.list_objects_v2(Bucket=LAKE, Prefix=f"{OUTPUT_PREFIX}_replays/{replay_id}/").get("KeyCount", 0)
        == 0
    )
    assert (
        s3.list_objects_v2(Bucket=LAKE, Prefix=f"{BAD_PATH[len('s3://' + LAKE) + 1 :]}_replays/").get(
            "KeyCount", 0
        )
        == 0
    )
    part = glue.get_partition(DatabaseName=DATABASE, TableName=GLUE_TABLE, PartitionValues=[DAY])["Partition"]
    assert part["StorageDescriptor"]["Location"] == f"{OUTPUT_PATH}dt={DAY}/"

    # Tracking: old MANIFEST items kept for history but superseded; the date is complete with the new totals.
    manifests = {m["manifest_id"]: m for m in stack.manifests(DAY)}
    assert {manifests[m].get("superseded_by") for m in old_ids} == {replay_id}
    assert all(manifests[m]["status"] == "completed" for m in new_ids)
    assert {f["manifest_id"] for f in stack.files(DAY)} == new_ids
    ctx = stack.ctx()
    [day] = collect(ctx.ddb, ctx.table_name, dates=[DAY], pending_shards=2).dates
    assert day.complete and day.totals["records_out"] == 70 and day.totals["bad_records"] == 1
    assert [r["status"] for r in day.replays] == ["completed"]


def test_replay_refuses_a_date_still_being_processed(stack):
    busy = "2026-10-11"
    stack.drop(f"raw/{busy}/only.ndjson", ndjson(busy, "only", 3))
    stack.deliver()  # one file: pending, waiting for a batch
    with pytest.raises(DateBusy):
        replay(stack.ctx(), busy)
    assert not [i for i in stack.items(busy) if i["file_key"].startswith("REPLAY#")]


def test_reconcile_finishes_a_manifest_whose_status_update_was_lost(stack):
    from pipeline.embedded.bridges import LambdaFunctionError
    from pipeline.ops.reconcile import reconcile

    day = "2026-10-12"
    runner = stack.runner

    def lambda_outage(function_name: str, payload: bytes) -> bytes:
        if json.loads(payload).get("action") == "complete":  # the status update cannot get through
            raise LambdaFunctionError("ResourceConflictException", "The function is being updated.")
        return runner.invoke(function_name, payload)

    from pipeline.embedded import bridges as moto_bridges

    moto_bridges.set_lambda_invoker(lambda_outage)
    try:
        stack.drop(f"raw/{day}/a.ndjson", ndjson(day, "a", 8))
        stack.drop(f"raw/{day}/b.ndjson", ndjson(day, "b", 4))
        stack.deliver()  # a full batch of two starts
        stack.wait_executions_done()
    finally:
        moto_bridges.set_lambda_invoker(runner.invoke)
    [manifest] = stack.manifests(day)
    assert manifest["status"] == "processing"  # converted, but nobody recorded it
    sfn = stack.aws.client("stepfunctions")
    assert (
        sfn.describe_execution(executionArn=manifest["execution_arn"])["error"]
        == "Pipeline.StatusUpdateFailed"
    )

    plan = reconcile(stack.ctx(), [day], dry_run=True)
    assert [(m.manifest_id, m.action) for m in plan.manifests] == [(manifest["manifest_id"], "complete")]
    result = reconcile(stack.ctx(), [day])
    assert result.ok
    [manifest] = stack.manifests(day)
    assert manifest["status"] == "completed" and manifest["records_out"] == 12
    assert {f["status"] for f in stack.files(day)} == {"completed"}
    # ... and registered in the catalog as the status update would have done.
    glue = stack.aws.client("glue")
    partition = glue.get_partition(DatabaseName=DATABASE, TableName=GLUE_TABLE, PartitionValues=[day])
    assert partition["Partition"]["StorageDescriptor"]["Location"] == f"{OUTPUT_PATH}dt={day}/"
