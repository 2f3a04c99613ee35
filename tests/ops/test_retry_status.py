"""A manifest fails for a real reason (its input vanished before the Glue run), `status` shows it, the input is
restored, and `retry` runs it again to success under a new execution name, with the attempt count kept."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli.ops import ops_app
from pipeline.contracts.errors import ManifestNotFound
from pipeline.ops.errors import ManifestNotRetryable
from pipeline.ops.retry import retry_manifest
from pipeline.ops.status import collect

from .harness import INPUT, MiniStack, ndjson

DAY = "2026-10-01"


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("ops-retry")).start(spark, {})
    yield mini
    mini.stop()


def test_failed_manifest_is_shown_then_retried_to_success(stack):
    s3 = stack.aws.client("s3")
    body_b = ndjson(DAY, "b", 12)
    stack.drop(f"raw/{DAY}/a.ndjson", ndjson(DAY, "a", 20))
    stack.drop(f"raw/{DAY}/b.ndjson", body_b)
    assert stack.deliver() >= 2
    assert sorted(f["status"] for f in stack.files(DAY)) == ["pending", "pending"]

    # The object disappears before its batch runs: the Glue job fails on the missing mandatory file.
    s3.delete_object(Bucket=INPUT, Key=f"raw/{DAY}/b.ndjson")
    started = stack.flush()["started"]
    assert len(started) == 1
    [manifest] = stack.wait_manifests_final(DAY, 1)
    manifest_id = manifest["manifest_id"]
    assert manifest["status"] == "failed"
    assert {f["status"] for f in stack.files(DAY)} == {"failed"}
    # completion by reference: the failure was written on the MANIFEST item only, the files read it from there
    assert {f["stored_status"] for f in stack.files(DAY)} == {"manifested"}
    stack.wait_executions_done()

    ctx = stack.ctx()
    report = collect(
        ctx.ddb,
        ctx.table_name,
        dates=[DAY],
        pending_shards=2,
        sqs=ctx.client("sqs"),
        dlq_url=stack.dlq_url,
        queue_url=stack.queue_url,
        sfn=ctx.client("stepfunctions"),
        state_machine_arn=stack.machine_arn,
    )
    [day] = report.dates
    assert day.files["failed"] == 2 and day.manifests_by_status["failed"] == 1 and not day.complete
    assert day.manifests[0]["manifest_id"] == manifest_id and day.manifests[0]["error"]
    [failure] = [e for e in report.failed_executions if e["name"] == manifest_id]
    assert failure["error"] == "Pipeline.BatchFailed"
    levels = {i.name: i.level for i in report.indicators}
    assert levels["failed_manifests"] == "warning" and report.level == "warning"

    # The same through the CLI, as a script would read it; --fail-on warning makes the exit status say so.
    outputs = stack.outputs_file()
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "status",
            "--date",
            DAY,
            "--json",
            "--outputs",
            str(outputs),
            "--endpoint-url",
            stack.aws.endpoint_url,
            "--fail-on",
            "warning",
        ],
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["health"] == "warning"
    assert document["dates"][0]["manifests"][0]["status"] == "failed"

    # A completed or unknown manifest is refused with a named error; the failed one is retried.
    with pytest.raises(ManifestNotFound):
        retry_manifest(ctx, "2026-10-01-000000-000000000000")
    stack.drop(f"raw/{DAY}/b.ndjson", body_b)  # the fix: the object is back (same content, same ETag)
    stack.deliver()  # its new notification is a duplicate for the tracking table
    assert len(stack.files(DAY)) == 2

    # `retry --failed --date D --wait`: every failed manifest of the date, followed to its end.
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "retry",
            "--failed",
            "--date",
            DAY,
            "--wait",
            "--timeout",
            "120",
            "--json",
            "--outputs",
            str(outputs),
            "--endpoint-url",
            stack.aws.endpoint_url,
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    [outcome] = json.loads(result.stdout)["retried"]
    assert outcome["manifest_id"] == manifest_id and outcome["attempt"] == 2 and outcome["files"] == 2
    assert outcome["execution_name"] == f"{manifest_id}-r2" and outcome["final_status"] == "completed"
    [manifest] = stack.manifests(DAY)
    assert manifest["status"] == "completed" and manifest["attempts"] == 2
    assert manifest["records_out"] == 32 and "error" not in manifest
    assert manifest["execution_arn"].endswith(f":{manifest_id}-r2")
    assert {f["status"] for f in stack.files(DAY)} == {"completed"}
    names = {
        e["name"]: e["status"]
        for e in stack.aws.client("stepfunctions").list_executions(stateMachineArn=stack.machine_arn)[
            "executions"
        ]
    }
    assert names[manifest_id] == "FAILED" and names[f"{manifest_id}-r2"] == "SUCCEEDED"
    rows = stack.lake_records(DAY)
    assert len(rows) == 32 and len({r["event_id"] for r in rows}) == 32
    assert {r["_manifest_id"] for r in rows} == {manifest_id}

    with pytest.raises(ManifestNotRetryable):
        retry_manifest(ctx, manifest_id)  # completed: replay is the tool for that
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app, ["retry", manifest_id, "--outputs", str(outputs), "--endpoint-url", stack.aws.endpoint_url]
    )
    assert result.exit_code == 1 and "ManifestNotRetryable" in result.stderr
    report = collect(ctx.ddb, ctx.table_name, dates=[DAY], pending_shards=2)
    assert report.dates[0].complete and report.dates[0].totals["records_out"] == 32


def test_reconcile_registers_completed_dates_missing_from_the_catalog(stack):
    # The retried date above completed without a catalog registration (none is wired in this stack).
    import io

    import pyarrow.parquet as pq

    from pipeline.ops.reconcile import reconcile

    from .harness import DATABASE, GLUE_TABLE, LAKE, OUTPUT_PATH

    ctx = stack.ctx()
    plan = reconcile(ctx, [DAY], dry_run=True)
    assert [(c.date_prefix, c.action) for c in plan.catalog] == [(DAY, "register partition")]
    result = CliRunner(env=stack.operator_env()).invoke(
        ops_app,
        [
            "reconcile",
            "--date",
            DAY,
            "--outputs",
            str(stack.outputs_file()),
            "--endpoint-url",
            stack.aws.endpoint_url,
        ],
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "register partition" in result.stdout
    glue = stack.aws.client("glue")
    partition = glue.get_partition(DatabaseName=DATABASE, TableName=GLUE_TABLE, PartitionValues=[DAY])[
        "Partition"
    ]
    assert partition["StorageDescriptor"]["Location"] == f"{OUTPUT_PATH}dt={DAY}/"
    columns = [
        c["Name"]
        for c in glue.get_table(DatabaseName=DATABASE, Name=GLUE_TABLE)["Table"]["StorageDescriptor"][
            "Columns"
        ]
    ]
    s3 = stack.aws.client("s3")
    for key in stack.lake_keys(DAY):
        schema = pq.read_schema(io.BytesIO(s3.get_object(Bucket=LAKE, Key=key)["Body"].read()))
        assert [name.lower() for name in schema.names] == columns
    assert reconcile(ctx, [DAY]).catalog == []  # registered: nothing left


def test_trace_follows_the_retried_execution_on_a_parquet_table(stack):
    # The date retried above: `pipeline trace` shows the second attempt's execution and the Parquet rows of a.
    from reliability.checks import staged_to_s3

    from pipeline.ops.trace import TraceRequest, trace

    request = TraceRequest.of(f"s3://{INPUT}/raw/{DAY}/a.ndjson")
    [journey] = trace(stack.ctx(), request, source_url=staged_to_s3).as_dict()["items"]
    manifest = journey["manifest"]
    assert journey["status"] == "completed" and manifest["attempts"] == 2
    assert journey["execution"]["name"] == f"{manifest['manifest_id']}-r2"
    assert journey["execution"]["status"] == "SUCCEEDED" and journey["glue_run"]["state"] == "SUCCEEDED"
    assert journey["output"]["table_format"] == "parquet" and journey["output"]["rows_written"] == 20
    assert journey["output"]["quarantine"]["lines"] == 0 and journey["snapshot"] is None


def test_status_watch_refreshes_on_a_terminal_until_ctrl_c(stack):
    # `pipeline status --watch` in a real terminal (a pty) against the stack: three pending files of a new date
    # next to the retried date's two completed ones; it redraws every 0.3 s, and Ctrl-C ends it with exit 0.
    import os
    import pty
    import re
    import select
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    late = "2026-10-21"
    for name in ("w1", "w2", "w3"):
        stack.drop(f"raw/{late}/{name}.ndjson", ndjson(late, name, 4))
    assert stack.deliver() >= 3
    worktree = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "pipeline", "status", "--watch", "--interval", "0.3"]
    command += ["--date", DAY, "--date", late, "--outputs", str(stack.outputs_file())]
    command += ["--endpoint-url", stack.aws.endpoint_url]
    env = {
        **os.environ,
        **stack.operator_env(),
        "PYTHONPATH": str(worktree),
        "COLUMNS": "150",
        "LINES": "40",
        "TERM": "xterm",
    }
    env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)

    def read_for(fd: int, seconds: float, until: bytes | None = None, seen: bytes = b"") -> bytes:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until in seen):
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    return seen
                if not chunk:
                    return seen
                seen += chunk
        return seen

    try:
        seen = read_for(master, 90, until=b"refresh 3 at")
        assert b"refresh 3 at" in seen, seen.decode(errors="replace")[-2000:]
        process.send_signal(signal.SIGINT)
        seen = read_for(master, 5, seen=seen)
        assert process.wait(timeout=30) == 0
        seen = read_for(master, 1, seen=seen)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert "\x1b[" in seen.decode(errors="replace")  # a terminal: rich redraws in place
    assert "Traceback" not in text and "stopped after" in text
    assert "refresh 1 at" in text and "refresh 2 at" in text
    assert "s (oldest pending file" in text and f"raw/{late}/w" in text
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if cells and cells[0] in (DAY, late):
            rows[cells[0]] = cells[1:]
    # pending, processing, completed, failed, manifests running
    assert rows[DAY] == ["0", "0", "2", "0", "0"]
    assert rows[late] == ["3", "0", "0", "0", "0"]

    # Piped (no terminal): each refresh is printed after the previous one, Ctrl-C still ends it with exit 0.
    piped = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        assert piped.stdout is not None
        out = read_for(piped.stdout.fileno(), 90, until=b"refresh 2 at")
        piped.send_signal(signal.SIGINT)
        out = read_for(piped.stdout.fileno(), 5, seen=out)
        assert piped.wait(timeout=30) == 0
    finally:
        if piped.poll() is None:
            piped.kill()
    printed = out.decode(errors="replace")
    assert "\x1b[" not in printed and "Traceback" not in printed
    assert printed.count("files per date") >= 2 and "stopped after" in printed
