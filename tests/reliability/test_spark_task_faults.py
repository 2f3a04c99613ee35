"""An exception inside a Spark task of the Glue job while it writes, then the documented recovery (`pipeline retry`).

The harness runs the real job through the embedded Glue runner, whose tasks write under the local lake folder
(`<lake>/_staging/<manifest_id>/<run>/`): the fault is that volume filling up (`faults.StagingDiskFull`) after the
run's parse stage has staged its pieces, so the write task's own `write()` fails with ENOSPC. Nothing of ours is
patched. Asserted: the batch fails with the job's stable error name (`TaskFailed`, with the OS error as cause),
nothing of that manifest is published (lake and quarantine, in S3 and locally), staging is cleaned, a previously
published output of the same manifest stays intact and readable, and `pipeline retry` then completes the manifest
with every line exactly once."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from ops.harness import LAKE, OUTPUT_PREFIX, QUARANTINE_PREFIX, MiniStack, ndjson

from pipeline.ops.retry import retry_manifest

from .checks import assert_holds, check
from .faults import FAULTS, Rule, S3WriteRefusals, StagingDiskFull, faulty_s3_endpoint, is_status_update_write


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("reliability-spark-task")).start(spark, {})
    yield mini
    mini.stop()


def _drop(stack: MiniStack, day: str, *names: str, rows: int = 20) -> None:
    for name in names:
        stack.drop(f"raw/{day}/{name}.ndjson", ndjson(day, name, rows, bad_lines=1))
    stack.deliver()
    assert {f["status"] for f in stack.files(day)} == {"pending"}


def _lake(stack: MiniStack) -> Path:
    return stack.workdir / "lake"


def _objects(stack: MiniStack, prefix: str) -> dict[str, str]:
    """Key -> ETag of every object under a prefix of the lake bucket (lake, quarantine and reports)."""
    listed = stack.aws.client("s3").list_objects_v2(Bucket=LAKE, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed}


def _local_files(root: Path) -> set[str]:
    return (
        {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    )


def _assert_no_staging_left(stack: MiniStack) -> None:
    staging = _lake(stack) / "_staging"
    assert not staging.exists() or not any(staging.rglob("*")), sorted(staging.rglob("*"))
    assert _objects(stack, f"{OUTPUT_PREFIX}_staging") == {}


def _fail_next_run_mid_write(stack: MiniStack, start) -> tuple[dict, StagingDiskFull]:
    """Start a run with `start()` while the staging volume is about to fill up; the manifest's final item."""
    with StagingDiskFull(_lake(stack)).watch() as fault:
        start()
        stack.wait_executions_done()
    assert len(fault.hits) == 1 and fault.pieces_before_hit[0] >= 1, (
        fault.hits
    )  # hit after pieces were staged
    return fault


def _assert_failed_mid_write(stack: MiniStack, day: str) -> dict:
    [manifest] = stack.wait_manifests_final(day, 1)
    assert manifest["status"] == "failed", manifest
    # The state machine's caught error: the Glue job run, whose ErrorMessage is `<error name>: <sentence>`.
    assert manifest.get("error") == "States.TaskFailed" and manifest.get("job_error") == "TaskFailed", (
        manifest
    )
    message = json.loads(manifest["cause"])["ErrorMessage"]
    assert message.startswith("TaskFailed: OSError") and "No space left on device" in message, message
    run = stack.glue.runs[-1]
    assert run.status == "FAILED" and run.error.startswith("TaskFailed: OSError"), run
    assert {f["status"] for f in stack.files(day)} == {"failed"}
    return manifest


def test_disk_full_inside_a_spark_task_publishes_nothing_and_retry_completes(stack):
    day = "2026-10-01"
    _drop(stack, day, "a", "b")
    fault = _fail_next_run_mid_write(stack, stack.flush)
    manifest = _assert_failed_mid_write(stack, day)
    manifest_id = manifest["manifest_id"]
    assert fault.hits[0].parent.parent.parent.name == manifest_id
    # Nothing of the manifest is published: no Parquet, no quarantine (its bad lines stay unpublished), no
    # report, in S3 or in the local lake; staging (with the planted file) is gone.
    assert stack.lake_keys(day) == [] and stack.lake_keys(day, prefix=QUARANTINE_PREFIX) == []
    assert _objects(stack, f"{OUTPUT_PREFIX}_reports/{manifest_id}") == {}
    assert not any(manifest_id in name for name in _local_files(_lake(stack)))
    assert not any(manifest_id in name for name in _local_files(stack.workdir / "quarantine"))
    _assert_no_staging_left(stack)
    report = check(stack, day)
    assert report.ok and report.settled, report.summary()  # failed is terminal, nothing counted as converted

    outcome = retry_manifest(stack.ctx(), manifest_id)  # recovery: `pipeline retry <id>`
    assert outcome.attempt == 2
    [manifest] = stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert manifest["status"] == "completed", manifest
    assert stack.report(manifest_id)["records_in"] == 42
    assert assert_holds(stack, day).lines_checked == 42
    assert len(stack.lake_records(day)) == 40 and len(stack.lake_keys(day, prefix=QUARANTINE_PREFIX)) == 2
    _assert_no_staging_left(stack)


def test_a_rerun_failing_mid_write_leaves_the_published_output_intact(stack):
    """The Glue job published, the status update failed (execution FAILED, manifest still `processing`), the
    operator chose `pipeline retry`, and that re-run fails mid-write: the first run's Parquet, quarantine and
    report stay exactly as they were and readable; the next retry completes the manifest."""
    day = "2026-10-02"
    _drop(stack, day, "a", "b", "c")
    status_update = Rule("dynamodb", "UpdateItem", "AccessDeniedException", when=is_status_update_write)
    with FAULTS.active(status_update):
        stack.flush()
        stack.wait_executions_done(timeout=180)
    assert status_update.hits >= 1
    [manifest] = stack.manifests(day)
    manifest_id = manifest["manifest_id"]
    assert manifest["status"] == "processing"
    published = _objects(stack, f"{OUTPUT_PREFIX}dt={day}") | _objects(stack, f"{QUARANTINE_PREFIX}dt={day}")
    published |= _objects(stack, f"{OUTPUT_PREFIX}_reports/{manifest_id}")
    assert len(published) == 5  # one Parquet file, three quarantine files (one per parse task), the report
    rows_before = sorted(r["event_id"] for r in stack.lake_records(day))
    assert len(rows_before) == 60
    # Published, status never arrived: in flight (not a violation), and not settled (reconcile or retry is due).
    report = check(stack, day)
    assert report.ok and not report.settled, report.summary()
    assert any("published by running manifest" in line for line in report.in_flight), report.summary()

    _fail_next_run_mid_write(stack, lambda: retry_manifest(stack.ctx(), manifest_id))
    _assert_failed_mid_write(stack, day)
    after = _objects(stack, f"{OUTPUT_PREFIX}dt={day}") | _objects(stack, f"{QUARANTINE_PREFIX}dt={day}")
    after |= _objects(stack, f"{OUTPUT_PREFIX}_reports/{manifest_id}")
    assert after == published  # same keys, same ETags: nothing replaced, nothing deleted
    s3 = stack.aws.client("s3")
    for key in published:
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=LAKE, Key=key)["Body"].read()
            table = pq.read_table(io.BytesIO(body))
            assert set(table.column("_manifest_id").to_pylist()) == {manifest_id}
    assert sorted(r["event_id"] for r in stack.lake_records(day)) == rows_before
    _assert_no_staging_left(stack)
    # The lake still holds the first run's rows while the tracking says failed: the checker names exactly that
    # until the retry completes the manifest.
    report = check(stack, day)
    assert len(report.violations) == 3, report.summary()
    assert all(" is failed but has 20 Parquet rows under " in line for line in report.violations)

    retry_manifest(stack.ctx(), manifest_id)
    [manifest] = stack.wait_manifests_final(day, 1)
    stack.wait_executions_done()
    assert manifest["status"] == "completed", manifest
    assert assert_holds(stack, day).lines_checked == 63
    assert sorted(r["event_id"] for r in stack.lake_records(day)) == rows_before  # replaced, not duplicated


# ---------------------------------------------------------------------------------------------------------------
# The same fault at the job level with S3 staging (as on AWS Glue: OUTPUT_PATH is s3://, the tasks write their
# pieces and Parquet files through pyarrow's S3 client). The embedded S3 answers the task's PUT with an error.
# ---------------------------------------------------------------------------------------------------------------
JOB_BUCKET = "task-faults"
JOB_DAY = "2026-10-03"


def _job_keys(s3, prefix: str) -> dict[str, str]:
    """Key -> ETag, without the empty directory markers pyarrow's S3 client leaves after deletes."""
    listed = s3.list_objects_v2(Bucket=JOB_BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed if not (o["Key"].endswith("/") and o["Size"] == 0)}


@pytest.fixture
def job_input(aws):
    """Two input objects (20 good lines and 1 bad line each) and their manifest in the embedded S3. The job runs
    outside the harness stack, on a bucket of its own that no Terraform policy names: with the module's stack up,
    IAM enforcement is suspended for these tests (their faults are S3's answers, not IAM's)."""
    from ops.harness import active_stack

    stack = active_stack()
    with stack.enforcement_suspended() if stack is not None else contextlib.nullcontext():
        yield from _job_input(aws)


def _job_input(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=JOB_BUCKET)
    entries = []
    for name in ("a", "b"):
        key = f"raw/{JOB_DAY}/{name}.ndjson"
        s3.put_object(Bucket=JOB_BUCKET, Key=key, Body=ndjson(JOB_DAY, name, 20, bad_lines=1))
        entries.append({"url": f"s3://{JOB_BUCKET}/{key}", "mandatory": True})
    manifest = {"manifest_id": "m-task-faults", "date_prefix": JOB_DAY, "entries": entries}
    s3.put_object(Bucket=JOB_BUCKET, Key="manifests/m.json", Body=json.dumps(manifest).encode())
    yield s3
    for obj in s3.list_objects_v2(Bucket=JOB_BUCKET).get("Contents", []):
        s3.delete_object(Bucket=JOB_BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=JOB_BUCKET)


def _run_job(spark, endpoint: str, monkeypatch) -> dict:
    from glue_jobs.ndjson_to_parquet import parse_job_args, run_job

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # the driver ships it to the tasks
    argv = ["--JOB_NAME", "task-faults", "--MANIFEST_PATH", f"s3://{JOB_BUCKET}/manifests/m.json"]
    argv += ["--OUTPUT_PATH", f"s3://{JOB_BUCKET}/out", "--COMPRESSION_TYPE", "zstd"]
    return run_job(spark, parse_job_args(argv))


def _published(s3) -> dict[str, str]:
    return {
        key: etag
        for key, etag in _job_keys(s3, "out/").items()
        if key.startswith((f"out/dt={JOB_DAY}/", f"out/_bad_records/dt={JOB_DAY}/", "out/_reports/"))
    }


def _staging_path(stage: str) -> Callable[[str], bool]:
    return lambda path: path.startswith(f"/{JOB_BUCKET}/out/_staging/") and f"/{stage}/" in path


def test_s3_refusing_a_staged_piece_inside_a_parse_task_is_not_blamed_on_the_input(
    spark, job_input, monkeypatch
):
    """A parse task stages its typed pieces next to the output: when S3 refuses that write (403), the run fails
    with `TaskFailed` naming the staging object, not `InputFileUnreadable` ("fix or remove the input file"), which
    would send the operator after a file that is fine. Nothing is published, staging is cleaned, the re-run
    completes."""
    from glue_jobs.ndjson_to_parquet import JobError

    s3 = job_input
    refusals: list[S3WriteRefusals] = []

    def middleware(app):
        refusals.append(S3WriteRefusals(app, _staging_path("pieces")))
        return refusals[0]

    with faulty_s3_endpoint(middleware) as endpoint, pytest.raises(JobError) as failed:
        _run_job(spark, endpoint, monkeypatch)
    assert len(refusals[0].refused) == 1 and "/pieces/" in refusals[0].refused[0]
    assert failed.value.error_name == "TaskFailed", failed.value
    assert failed.value.message.startswith("cannot write the staged piece s3://task-faults/out/_staging/")
    assert "injected AccessDenied" in failed.value.message
    assert _published(s3) == {} and _job_keys(s3, "out/_staging/") == {}

    report = _run_job(spark, aws_endpoint(s3), monkeypatch)
    assert report["records_out"] == 40 and report["bad_records"] == 2
    assert len(_published(s3)) == 4 and _job_keys(s3, "out/_staging/") == {}


@pytest.mark.parametrize(
    ("code", "status", "times"), [("AccessDenied", "403 Forbidden", 1), ("SlowDown", "503 Slow Down", None)]
)
def test_s3_refusing_a_parquet_write_inside_a_write_task_keeps_the_published_output(
    spark, job_input, monkeypatch, code, status, times
):
    """The manifest's output is already published; its re-run fails while a write task uploads a Parquet file
    (refused once with 403, or 503 on every attempt until pyarrow's S3 client gives up): `TaskFailed`, the
    published Parquet, quarantine and report stay exactly as they were and readable, staging is cleaned, and the
    next re-run replaces the output without duplicates."""
    from glue_jobs.ndjson_to_parquet import JobError

    s3 = job_input
    first = _run_job(spark, aws_endpoint(s3), monkeypatch)
    published = _published(s3)
    assert first["records_out"] == 40 and len(published) == 4  # Parquet, 2 quarantine files, report
    refusals: list[S3WriteRefusals] = []

    def middleware(app):
        refusals.append(S3WriteRefusals(app, _staging_path("out"), code=code, status=status, times=times))
        return refusals[0]

    with faulty_s3_endpoint(middleware) as endpoint, pytest.raises(JobError) as failed:
        _run_job(spark, endpoint, monkeypatch)
    assert refusals[0].refused and all(p.endswith(".parquet") or "/out/" in p for p in refusals[0].refused)
    assert failed.value.error_name == "TaskFailed", failed.value
    assert _published(s3) == published and _job_keys(s3, "out/_staging/") == {}
    [parquet] = [key for key in published if key.endswith(".parquet")]
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=JOB_BUCKET, Key=parquet)["Body"].read()))
    assert table.num_rows == 40 and set(table.column("_manifest_id").to_pylist()) == {"m-task-faults"}

    again = _run_job(spark, aws_endpoint(s3), monkeypatch)
    assert again["records_out"] == 40 and set(_published(s3)) == set(published)


def aws_endpoint(s3) -> str:
    return str(s3.meta.endpoint_url)
