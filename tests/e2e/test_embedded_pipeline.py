"""The whole pipeline, end to end, on the embedded AWS: the README's main command on a small drop.

`pipeline demo` runs in a subprocess (as a user runs it: its own JVM, its own embedded AWS, Terraform applying the
project's stack) on a small drop: six files over two dates, corrupt lines, one schema change, one duplicate S3
notification, one gzip file. It keeps the embedded AWS up (`--keep-running`) so the test can inspect it through
boto3, then the test stops it with SIGINT (Ctrl-C) and checks it exits cleanly.

Checked independently of the command's own summary: the Iceberg table (the default format) read back through the
embedded Glue catalog and offline from the workdir's mirror (rows per partition equal the clean lines of that
date's files), the quarantine (holds exactly the corrupt lines), the tracking table (every file item `completed`,
every MANIFEST item with its execution ARN, the job report's counts and its snapshot), the Glue job runs (each
received `--COMPRESSION_TYPE`), the committed files' footers (that codec), one snapshot per batch, and the
invariant checker reading the committed table.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.control_plane.adapters.codec import plain
from pipeline.embedded.server import free_port
from pipeline.ops.table_reads import with_derived_status

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]

REPO = Path(__file__).resolve().parents[2]
CODEC = "gzip"  # not the default (zstd): proves the CLI option reaches the job through Terraform


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:  # type: ignore[operator]
        return [line.rstrip(b"\r\n") for line in handle if line.strip()]


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


class DemoProcess:
    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        env = {**os.environ, "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(key, None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "demo",
                "--workdir",
                str(workdir),
                "--files",
                "6",
                "--size-mb",
                "3",
                "--port",
                str(port),
                "--compression",
                CODEC,
                "--max-files-per-manifest",
                "2",
                "--keep-running",
                "--clean",
                "--summary-json",
                str(workdir / "summary-test.json"),
                "--timeout",
                "300",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            if text in line:
                return
        raise AssertionError(f"'{text}' not seen (exit {self.proc.poll()}):\n" + "".join(self.output[-80:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                log = self.workdir / "logs" / "pipeline.log"
                tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
                raise AssertionError(
                    "no exit within 120 s of Ctrl-C; output and pipeline.log end with:\n"
                    + "".join(self.output[-20:])
                    + "\n".join(tail)
                ) from None
        return int(self.proc.returncode)


def harness_keys(output: list[str]) -> tuple[str, str]:
    """The access key pair `export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...` the command printed."""
    text = "".join(output)
    found = re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)", text)
    assert found, "no access keys printed:\n" + text[-2000:]
    return found.group(1), found.group(2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Any:
    workdir = tmp_path_factory.mktemp("embedded") / "work"
    port = free_port()
    process = DemoProcess(workdir, port)
    try:
        process.wait_for("Press Ctrl-C to stop.", timeout=420)
        # IAM is enforced: the harness reads with the harness-only admin's keys the command prints.
        keys = harness_keys(process.output)
        session = boto3.Session(
            aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name="us-east-1"
        )
        endpoint = f"http://127.0.0.1:{port}"
        outputs = json.loads((workdir / "stack-outputs.json").read_text())
        summary = json.loads((workdir / "summary-test.json").read_text())
        yield {
            "workdir": workdir,
            "outputs": outputs,
            "summary": summary,
            "process": process,
            "client": lambda service: session.client(service, endpoint_url=endpoint),
            "keys": keys,
        }
    finally:
        code = process.stop()
        print("".join(process.output[-60:]))
    assert code == 0, "".join(process.output[-40:])


def test_the_demo_accounts_for_every_line(demo):
    summary = demo["summary"]
    assert summary["ok"], summary["problems"]
    assert summary["files"] == 6 and summary["files_completed"] == 6
    assert summary["duplicate_notifications"] == 1
    assert summary["lines"] == summary["records_out"] + summary["quarantined"]
    assert summary["quarantined"] == summary["expected_bad_lines"] > 0
    for stage in ("aws_start", "terraform_apply", "tracking", "processing", "total"):
        assert summary["timings"][stage] > 0
    output = "".join(demo["process"].output)
    assert "Summary" in output and "Sample query" in output and "OK: every input line" in output
    # Freshness per batch: seconds from its files' landing (earliest tracking time) to its completion, in the
    # summary JSON and as the "freshness" column of the printed Batches table.
    completed = [m for m in summary["manifests"] if m["status"] == "completed"]
    assert completed and len(completed) == len(summary["manifests"])
    for m in completed:
        assert 0 < m["freshness_seconds"] <= summary["timings"]["total"], m
    batches = output[output.index("Batches") :]
    assert "freshness" in batches.splitlines()[2]
    rows = {line.split("│")[1].strip(): line for line in batches.splitlines() if line.count("│") > 5}
    for m in completed:
        assert f"{m['freshness_seconds']:.1f} s" in rows[m["manifest_id"]], rows
    # "of which Glue job runs" is a part of "batches" (it was the runs' summed durations, some before the stage).
    assert 0 < summary["timings"]["glue_runs"] <= summary["timings"]["processing"]
    # Spark's start-up lines went to logs/spark.log, not to the terminal (stdout and stderr are both here).
    for noise in ("WARN", "NativeCodeLoader", "loopback address", "Setting default log level"):
        assert noise not in output, output
    assert (demo["workdir"] / "logs" / "spark.log").is_file()


def test_terraform_init_ran_once_in_the_background_before_the_apply(demo):
    """`terraform init` needs neither the endpoint nor the artifacts: it runs while the embedded AWS starts
    (docs/scaling.md#demo-wall-time), as a stage of its own, and the apply does not repeat it."""
    log = (demo["workdir"] / "logs" / "terraform.log").read_text()
    assert re.findall(r"^===== terraform (\w+) ", log, re.M) == ["init", "apply", "output"], log[-2000:]
    assert 0 < demo["summary"]["timings"]["terraform_init"] < demo["summary"]["timings"]["total"]


def test_the_sample_query_hint_runs_as_printed(demo):
    """The hint is the real command (it was `pipeline query "..."`): pasted into a shell it answers the same."""
    lines = "".join(demo["process"].output).splitlines()
    command = lines[lines.index("Sample query (the command runs it again):") + 1].strip()
    pasted = subprocess.run(
        ["bash", "-c", command + " --format json"],
        capture_output=True,
        text=True,
        cwd=REPO,  # where the demo ran
        timeout=120,
        check=False,
    )
    assert pasted.returncode == 0, command + "\n" + pasted.stderr
    rows = json.loads(pasted.stdout)
    assert sum(row["events"] for row in rows) == demo["summary"]["records_out"]


def _outputs(demo) -> dict[str, Any]:
    return {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in demo["outputs"].items()
    }


def _live_table(demo):
    """The Iceberg table through the embedded Glue catalog (what Athena would read)."""
    from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess, TableRef, load_table, open_catalog

    outputs = _outputs(demo)
    endpoint = demo["client"]("s3").meta.endpoint_url
    access = CatalogAccess(endpoint, endpoint, "us-east-1", *demo["keys"])
    ref = TableRef(
        outputs["glue_database_name"], outputs["glue_table_name"], outputs["output_path"].rstrip("/")
    )
    table = load_table(open_catalog(ref, access), ref)
    assert table is not None
    return table


def _local(demo, uri: str) -> Path:
    """The workdir's mirror of an object of the table (the lake folder is the table's root)."""
    location = _outputs(demo)["output_path"].rstrip("/")
    return demo["workdir"] / "lake" / uri.removeprefix(location + "/")


def test_lake_partitions_hold_exactly_the_clean_lines_of_their_date(demo):
    workdir: Path = demo["workdir"]
    clean: collections.Counter[str] = collections.Counter()
    bad: collections.Counter[str] = collections.Counter()
    for path in sorted((workdir / "input").rglob("*.ndjson*")):
        day = path.parent.name
        for line in _lines(path):
            (clean if _is_record(line) else bad)[day] += 1
    assert len(clean) == 2 and sum(bad.values()) > 0

    # The committed snapshot, read three ways: the live catalog, the offline mirror (DuckDB via `pipeline
    # query`'s code), and Spark-free pyarrow over the snapshot's own data files.
    from pipeline.embedded.query import run_query

    table = _live_table(demo)
    live = collections.Counter(table.scan(selected_fields=("dt",)).to_arrow()["dt"].to_pylist())
    assert live == clean
    result = run_query("SELECT dt, count(*) FROM events GROUP BY dt", workdir / "lake")
    assert dict(result.rows) == dict(clean)
    with_experiment = run_query("SELECT count(*) FROM events WHERE experiment IS NOT NULL", workdir / "lake")
    assert with_experiment.rows[0][0] > 0  # the schema change (second date's later files) is merged
    files = [_local(demo, task.file.file_path) for task in table.scan().plan_files()]
    types = {str(pq.read_schema(f).field("_ingested_at").type) for f in files}
    assert types == {"timestamp[us, tz=UTC]"}
    sources = set(table.scan(selected_fields=("_source_file",)).to_arrow()["_source_file"].to_pylist())
    bucket = _outputs(demo)["input_bucket"]
    assert sources and all(s.startswith(f"s3://{bucket}/events/") for s in sources)

    quarantined = collections.Counter()
    for path in (workdir / "quarantine").rglob("*"):
        if path.is_file() and not path.name.startswith((".", "_")):
            day = next(part for part in path.parts if part.startswith("dt=")).removeprefix("dt=")
            quarantined[day] += len(_lines(path))
    assert quarantined == bad


def test_tracking_table_and_executions(demo):
    outputs = {
        k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in demo["outputs"].items()
    }
    dynamodb = demo["client"]("dynamodb")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=outputs["tracking_table_name"]):
        items.extend(page["Items"])
    files = [i for i in items if i["file_key"]["S"].startswith("F#")]
    manifests = [i for i in items if i["file_key"]["S"].startswith("MANIFEST#")]
    assert len(files) == 6  # the duplicate notification did not create a second item
    # completion by reference: the status update wrote only the MANIFEST items, every file reads completed
    assert {i["status"]["S"] for i in files} == {"manifested"}
    read = with_derived_status([plain(i) for i in files], [plain(i) for i in manifests])
    assert {i["status"] for i in read} == {"completed"}
    assert len(manifests) >= 3  # two dates, at most two files per batch
    sfn = demo["client"]("stepfunctions")
    for item in manifests:
        assert item["status"]["S"] == "completed"
        arn = item["execution_arn"]["S"]
        assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        for count in ("records_in", "records_out", "bad_records"):
            assert int(item[count]["N"]) >= 0, count
        assert int(item["records_in"]["N"]) == int(item["records_out"]["N"]) + int(item["bad_records"]["N"])


def test_glue_runs_got_the_codec_and_the_footers_show_it(demo):
    outputs = _outputs(demo)
    glue = demo["client"]("glue")
    runs = glue.get_job_runs(JobName=outputs["glue_job_name"])["JobRuns"]
    assert runs and all(r["JobRunState"] == "SUCCEEDED" for r in runs)
    assert all(r["Arguments"]["--COMPRESSION_TYPE"] == CODEC for r in runs)
    table = _live_table(demo)
    committed = [task.file.file_path for task in table.scan().plan_files()]
    assert committed
    for uri in committed:
        metadata = pq.ParquetFile(_local(demo, uri)).metadata
        codecs = {
            metadata.row_group(g).column(c).compression
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        }
        assert codecs == {CODEC.upper()}, (uri, codecs)
    # The output bucket holds the table (data and metadata) and the job reports; the lake mirrors it.
    bucket, _, prefix = outputs["output_path"].removeprefix("s3://").partition("/")
    keys = []
    for page in demo["client"]("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    assert {f"s3://{bucket}/{k}" for k in keys} >= set(committed)
    assert any("/metadata/" in k and k.endswith(".metadata.json") for k in keys)
    assert any("/_reports/" in k for k in keys)


def test_catalog_has_the_iceberg_table_with_one_snapshot_per_batch(demo):
    """The Glue catalog holds an Iceberg table (Athena reads it natively); each completed batch is one
    snapshot whose summary names its manifest; no Hive partitions are registered."""
    outputs = _outputs(demo)
    glue = demo["client"]("glue")
    database, name = outputs["glue_database_name"], outputs["glue_table_name"]
    described = glue.get_table(DatabaseName=database, Name=name)["Table"]
    assert described["Parameters"]["table_type"].upper() == "ICEBERG"
    assert described["Parameters"]["metadata_location"].startswith("s3://")
    assert glue.get_partitions(DatabaseName=database, TableName=name)["Partitions"] == []
    table = _live_table(demo)
    assert [f.name for f in table.spec().fields] == ["dt"]
    committed = {s.summary.additional_properties.get("manifest-id") for s in table.metadata.snapshots}
    dynamodb = demo["client"]("dynamodb")
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=outputs["tracking_table_name"]):
        items.extend(page["Items"])
    manifests = {
        i["file_key"]["S"].split("#", 1)[1] for i in items if i["file_key"]["S"].startswith("MANIFEST#")
    }
    assert manifests and committed == manifests
    snapshot_ids = {int(i["snapshot_id"]["N"]) for i in items if "snapshot_id" in i}
    assert snapshot_ids == {s.snapshot_id for s in table.metadata.snapshots}


def test_the_invariant_checker_holds_on_the_committed_table(demo):
    from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess
    from pipeline.checks import invariants

    outputs = _outputs(demo)
    endpoint = demo["client"]("s3").meta.endpoint_url
    locations = invariants.Locations(
        input_bucket=outputs["input_bucket"],
        input_prefix="events/",
        table=outputs["tracking_table_name"],
        manifest_bucket=outputs["manifest_bucket"],
        manifest_prefix=outputs.get("manifest_prefix", "manifests/"),
        output_path=outputs["output_path"],
        bad_records_path=outputs["bad_records_path"],
        iceberg=invariants.IcebergTable(
            outputs["glue_database_name"],
            outputs["glue_table_name"],
            CatalogAccess(endpoint, endpoint, "us-east-1", *demo["keys"]),
        ),
    )
    dates = sorted(p.name for p in (demo["workdir"] / "input" / "events").iterdir() if p.is_dir())
    report = invariants.check(demo["client"]("s3"), demo["client"]("dynamodb"), locations, dates)
    assert report.ok, report.summary()
    assert report.settled, report.summary()


def test_trace_shows_a_files_rows_and_its_quarantined_lines(demo):
    """`pipeline trace` against the Terraform stack (no staged inputs: `_source_file` is the s3:// URL): for the
    file with the most corrupt lines, its rows and quarantined lines are exactly that file's clean and bad lines."""
    workdir: Path = demo["workdir"]
    counts = {}
    for path in sorted((workdir / "input").rglob("*.ndjson*")):
        lines = _lines(path)
        counts[path] = (sum(map(_is_record, lines)), sum(not _is_record(line) for line in lines))
    path = max(counts, key=lambda p: counts[p][1])
    clean, bad = counts[path]
    assert bad > 0
    url = f"s3://{_outputs(demo)['input_bucket']}/{path.relative_to(workdir / 'input').as_posix()}"
    # As the operators' role (IAM is enforced): trace's reads are in the module's operator_policy_json.
    env = _operator_env(demo)
    command = [sys.executable, "-m", "pipeline", "trace", url, "--json"]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    _assert_operator_denied_nothing(demo)
    [journey] = json.loads(result.stdout)["items"]
    assert journey["status"] == "completed" and journey["execution"]["status"] == "SUCCEEDED"
    assert journey["glue_run"]["state"] == "SUCCEEDED"
    assert journey["output"]["rows_written"] == clean
    assert journey["output"]["quarantine"]["lines"] == bad
    assert len(journey["output"]["quarantine"]["samples"]) == min(bad, 5)
    assert journey["snapshot"]["manifest_id"] == journey["manifest"]["manifest_id"]
    assert journey["snapshot"]["in_current_table"] is True


def _metric_sums(demo, namespace: str) -> dict[str, dict[str, float]]:
    """Every metric of the stack's namespace: {name: {Sum, Maximum, SampleCount}} over the demo's run."""
    from datetime import UTC, datetime, timedelta

    cloudwatch = demo["client"]("cloudwatch")
    now = datetime.now(UTC)
    found: dict[str, dict[str, float]] = {}
    for metric in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=2),
            EndTime=now + timedelta(minutes=10),
            Period=3 * 3600,
            Statistics=["Sum", "Maximum", "SampleCount"],
        )["Datapoints"]
        found[metric["MetricName"]] = {
            "Sum": sum(p["Sum"] for p in points),
            "Maximum": max((p["Maximum"] for p in points), default=0.0),
            "SampleCount": sum(p["SampleCount"] for p in points),
        }
    return found


def test_the_metrics_are_exactly_the_counts_of_the_drop(demo):
    """The EMF lines of both Lambdas and every Glue run, in the embedded CloudWatch: the drop's own numbers."""
    from pipeline.build.dashboard import shown_metrics
    from pipeline.contracts import metrics as m

    outputs, summary = _outputs(demo), demo["summary"]
    namespace = outputs["metrics_namespace"]
    got = _metric_sums(demo, namespace)
    sums = {name: values["Sum"] for name, values in got.items()}
    manifests = sum(1 for _ in _manifest_items(demo))
    assert sums["FilesTracked"] == summary["files"] == 6
    assert sums["DuplicateEventsIgnored"] == summary["duplicate_notifications"] == 1
    assert sums["ManifestsStarted"] == sums["ManifestsCompleted"] == manifests >= 3
    assert sums["FilesManifested"] == sums["FilesConverted"] == 6
    assert sums.get("ManifestsFailed", 0) == 0 and sums.get("StartFailuresRolledBack", 0) == 0
    assert sums["RecordsIn"] == summary["lines"]
    assert sums["RowsOut"] == summary["records_out"]
    assert sums["RecordsQuarantined"] == summary["quarantined"] == summary["expected_bad_lines"] > 0
    assert sum(sums[x.name] for x in m.QUARANTINED_BY_CLASS.values()) == summary["quarantined"]
    assert got["RunSeconds"]["SampleCount"] == manifests  # one line per Glue run
    assert got["OldestPendingAgeSeconds"]["SampleCount"] >= 1  # the flush reported the freshness
    assert set(got) <= {x.name for x in m.ALL_METRICS}

    cloudwatch = demo["client"]("cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=outputs["dashboard_name"])["DashboardBody"])
    assert {name for ns, name in shown_metrics(body) if ns == namespace} == {x.name for x in m.ALL_METRICS}
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    freshness = alarms[f"{namespace.split('/')[0]}-freshness-objective"]
    assert freshness["MetricName"] == "OldestPendingAgeSeconds" and freshness["Threshold"] == 15 * 60
    assert freshness["AlarmActions"] == freshness["OKActions"] == [outputs["alert_topic_arn"]]
    assert set(outputs["alarm_names"]) >= {
        freshness["AlarmName"],
        f"{namespace.split('/')[0]}-bad-record-ratio",
    }

    # The embedded alarm evaluator: twenty minutes without a flush report (the flush stopped) is a breach.
    from datetime import UTC, datetime, timedelta

    from pipeline.embedded.alarms import evaluate_alarms
    from pipeline.embedded.server import set_harness_credentials

    endpoint = cloudwatch.meta.endpoint_url
    later = datetime.now(UTC) + timedelta(minutes=20)
    set_harness_credentials(*harness_keys(demo["process"].output))  # IAM is enforced: sign as the harness
    try:
        states = evaluate_alarms(endpoint, now=later, prefix=freshness["AlarmName"])
    finally:
        set_harness_credentials(None, None)
    assert states == {freshness["AlarmName"]: "ALARM"}


def _manifest_items(demo):
    dynamodb = demo["client"]("dynamodb")
    for page in dynamodb.get_paginator("scan").paginate(TableName=_outputs(demo)["tracking_table_name"]):
        for item in page["Items"]:
            if item["file_key"]["S"].startswith("MANIFEST#"):
                yield item


def test_iam_is_enforced_a_revoked_permission_fails_with_the_named_access_denied(demo):
    """The manifest builder signs with its own execution role: take dynamodb:Query out of that role's policy and
    its scheduled flush fails with AccessDenied naming the role and the action (put back afterwards)."""
    outputs = _outputs(demo)
    function = outputs["manifest_builder_function_name"]
    iam, lam = demo["client"]("iam"), demo["client"]("lambda")
    role = lam.get_function_configuration(FunctionName=function)["Role"].rsplit("/", 1)[-1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    originals = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"] for name in names
    }
    revoked = {}
    for name, document in originals.items():
        document = json.loads(document if isinstance(document, str) else json.dumps(document))  # a copy
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != "dynamodb:Query"] or ["dynamodb:DescribeLimits"]
        revoked[name] = document
    assert any("dynamodb:Query" in json.dumps(d) for d in originals.values()), (
        "the role never had dynamodb:Query"
    )
    try:
        for name, document in revoked.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
        answer = lam.invoke(FunctionName=function, Payload=json.dumps({"action": "flush"}).encode())
        error = answer["Payload"].read().decode()
    finally:
        for name, document in originals.items():
            text = document if isinstance(document, str) else json.dumps(document)
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=text)
    assert answer.get("FunctionError"), error
    assert "AccessDenied" in error, error
    assert f"assumed-role/{role}/" in error and "dynamodb:Query" in error, error
    # Restored: the same flush passes again.
    again = lam.invoke(FunctionName=function, Payload=json.dumps({"action": "flush"}).encode())
    assert not again.get("FunctionError"), again["Payload"].read()


def test_the_operator_commands_run_with_the_operator_role_only(demo):
    """The read-only and no-op operator commands, signed as the embedded operators' role whose only policy is the
    module's operator_policy_json (`trace` has its own test above): each exits as it should on this stack and the
    embedded AWS denied the role nothing. Nothing here changes the table or the tracking items."""
    manifests = {item["manifest_id"]["S"]: item["status"]["S"] for item in _manifest_items(demo)}
    assert manifests and set(manifests.values()) == {"completed"}, manifests

    status = _operator(demo, "status", "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    dates = shown["dates"]
    assert sum(d["files"]["completed"] for d in dates) == demo["summary"]["files"] == 6
    # Its "Pipeline metrics", read from the embedded CloudWatch with the role's cloudwatch:GetMetricData: the
    # drop's own counts (as test_the_metrics_are_exactly_the_counts_of_the_drop reads them), all within the hour.
    metrics, summary = shown["metrics"], demo["summary"]
    assert metrics["available"] is True, metrics
    assert metrics["namespace"] == _outputs(demo)["metrics_namespace"]
    assert metrics["last_hour"] == metrics["last_24h"]
    day = metrics["last_24h"]
    assert (
        (day["files_tracked"], day["duplicates_ignored"]) == (6, summary["duplicate_notifications"]) == (6, 1)
    )
    assert day["batches_started"] == day["batches_completed"] == len(manifests) and day["batches_failed"] == 0
    assert day["records_in"] == summary["lines"] and day["rows_out"] == summary["records_out"]
    assert day["quarantined"] == summary["quarantined"] == summary["expected_bad_lines"] > 0
    freshness = metrics["freshness"]
    assert freshness["seconds"] is not None and freshness["objective_seconds"] == 15 * 60
    assert freshness["within_objective"] is (freshness["seconds"] <= 15 * 60)
    text = _operator(demo, "status")
    assert text.returncode == 0, text.stderr
    assert "Pipeline metrics (CloudWatch" in text.stdout and "metrics unavailable" not in text.stdout
    assert "objective of 15m" in text.stdout, text.stdout

    schema = _operator(demo, "schema", "show", "--json")
    assert schema.returncode == 0, schema.stderr
    shown = json.loads(schema.stdout)
    assert shown["table_format"] == "iceberg" and "event_id" in [c["name"] for c in shown["columns"]]

    outputs = _outputs(demo)
    catalog = f"{outputs['glue_database_name']}.{outputs['glue_table_name']}"
    snapshots = _operator(demo, "snapshots", "--catalog", catalog, "--format", "json")
    assert snapshots.returncode == 0, snapshots.stderr
    assert {s["manifest_id"] for s in json.loads(snapshots.stdout)} == set(manifests)  # one per batch

    reconcile = _operator(demo, "reconcile", "--dry-run")
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr

    # backfill of keys every one of which is tracked: the dry run counts them, the real one is a no-op.
    items_before = _tracking_item_count(demo)
    for dry in (["--dry-run"], []):
        backfill = _operator(demo, "backfill", "--json", *dry)
        assert backfill.returncode == 0, backfill.stderr
        counted = json.loads(backfill.stdout)
        assert (counted["listed"], counted["tracked"], counted["already_tracked"]) == (6, 0, 6), counted
        assert counted["manifests_started"] == []
    assert _tracking_item_count(demo) == items_before

    redrive = _operator(demo, "redrive")
    assert redrive.returncode == 0, redrive.stderr
    assert "Nothing to redrive: the dead-letter queue is empty." in redrive.stdout, redrive.stdout

    # retry: no failed manifest to run again, and a completed one is refused with the way to reprocess it.
    none_failed = _operator(demo, "retry", "--failed")
    assert none_failed.returncode == 0 and "No failed manifest in the last 7 days." in none_failed.stderr
    completed = sorted(manifests)[0]
    refused = _operator(demo, "retry", completed)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"error[ManifestNotRetryable]: Manifest {completed} is completed" in refused.stderr, refused.stderr
    assert "pipeline replay --date" in refused.stderr and "AccessDenied" not in refused.stderr
    assert {item["manifest_id"]["S"]: item["status"]["S"] for item in _manifest_items(demo)} == manifests

    _assert_operator_denied_nothing(demo)


def _operator(demo, *command: str) -> subprocess.CompletedProcess[str]:
    """`pipeline COMMAND` in a subprocess signed as the operators' role, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *command],
        env=_operator_env(demo),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _tracking_item_count(demo) -> int:
    dynamodb = demo["client"]("dynamodb")
    return dynamodb.scan(TableName=_outputs(demo)["tracking_table_name"], Select="COUNT")["Count"]


def _operator_env(demo) -> dict[str, str]:
    """The environment of an operator signed as the embedded operators' role (its keys, printed by the demo)."""
    text = "".join(demo["process"].output)
    found = re.search(
        r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_SESSION_TOKEN=(\S+) pipeline", text
    )
    assert found, "no operator credentials printed:\n" + text[-2000:]
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": found.group(1),
        "AWS_SECRET_ACCESS_KEY": found.group(2),
        "AWS_SESSION_TOKEN": found.group(3),
        "AWS_ENDPOINT_URL": demo["client"]("s3").meta.endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PIPELINE_STACK_OUTPUTS": str(demo["workdir"] / "stack-outputs.json"),
        "COLUMNS": "200",
    }


def _assert_operator_denied_nothing(demo) -> None:
    log = (demo["workdir"] / "logs" / "pipeline.log").read_text(errors="replace")
    denied = [line for line in log.splitlines() if "IAM denied" in line and "-operator/" in line]
    assert not denied, "\n".join(denied)


# ---------------------------------------------------------------------------------------------------------------
# The operator commands that change the stack: last in the module (pytest runs a module's tests in file order), so
# every test above read the demo's table, tracking items and metrics before these.


def test_the_operator_retries_a_failed_batch_with_the_operator_role_only(demo):
    """Two files with no JSON line at all (the bad-line ratio is over the job's limit) make a batch that fails;
    `pipeline retry --failed --wait`, as the operators' role, runs it again as attempt 2 (which fails the same way:
    the input is still not JSON) and the embedded AWS denied the role nothing."""
    date = "2026-01-15"  # a date of its own: the demo's dates are today's and yesterday's
    outputs = _outputs(demo)
    s3 = demo["client"]("s3")
    for n in range(2):  # max-files-per-manifest 2: a full batch, started at once
        s3.put_object(
            Bucket=outputs["input_bucket"], Key=f"{date}/not-json-{n}.ndjson", Body=b"not json\n" * 50
        )
    deadline = time.monotonic() + 180
    failed: list[str] = []
    while not failed and time.monotonic() < deadline:
        time.sleep(2)
        failed = [
            i["manifest_id"]["S"]
            for i in _manifest_items(demo)
            if i["date_prefix"]["S"] == date and i["status"]["S"] == "failed"
        ]
    assert len(failed) == 1, f"no failed manifest of {date} within 180 s"

    retry = _operator(demo, "retry", "--failed", "--date", date, "--wait", "--timeout", "240", "--json")
    assert retry.returncode == 1, retry.stdout + retry.stderr  # the retried batch failed again
    answer = json.loads(retry.stdout)
    [retried] = answer["retried"]
    assert answer["refused"] == [] and retried["manifest_id"] == failed[0]
    assert retried["attempt"] == 2 and retried["execution_name"] == f"{failed[0]}-r2"
    assert retried["final_status"] == "failed"
    execution = demo["client"]("stepfunctions").describe_execution(executionArn=retried["execution_arn"])
    assert execution["status"] == "FAILED"
    _assert_operator_denied_nothing(demo)


def test_the_operator_redrives_a_dead_letter_message_with_the_operator_role_only(demo):
    """A notification of a tracked file in the DLQ (as a failed delivery leaves it): `pipeline redrive`, as the
    operators' role, moves it back to the ingest queue (receive, send, delete), the builder takes it as the
    duplicate it is (no new item), and the embedded AWS denied the role nothing."""
    outputs = _outputs(demo)
    sqs, s3 = demo["client"]("sqs"), demo["client"]("s3")
    [listed, *_] = s3.list_objects_v2(Bucket=outputs["input_bucket"])["Contents"]
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": listed["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "s3": {
            "bucket": {"name": outputs["input_bucket"]},
            "object": {"key": listed["Key"], "size": listed["Size"], "eTag": listed["ETag"].strip('"')},
        },
    }
    items_before = _tracking_item_count(demo)
    sqs.send_message(QueueUrl=outputs["ingest_dlq_url"], MessageBody=json.dumps({"Records": [record]}))

    redrive = _operator(demo, "redrive", "--json")
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    moved = json.loads(redrive.stdout)
    assert (moved["moved"], moved["failed_sends"], moved["dlq_after"], moved["ok"]) == (1, 0, 0, True), moved
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the event source mapping hands it to the builder
        attributes = sqs.get_queue_attributes(QueueUrl=outputs["ingest_queue_url"], AttributeNames=["All"])
        if (
            sum(
                int(attributes["Attributes"][a])
                for a in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
            )
            == 0
        ):
            break
        time.sleep(1)
    else:
        raise AssertionError("the redriven message was not consumed within 60 s")
    assert _tracking_item_count(demo) == items_before  # a duplicate: nothing tracked twice
    _assert_operator_denied_nothing(demo)


def test_the_operator_replays_a_date_then_maintains_the_table_with_the_operator_role_only(demo):
    """`pipeline replay --date D` (new manifests, the quarantine moved aside and back, the snapshot deleted) and then
    `pipeline maintain` (compaction, expiry, orphan removal), as the operators' role: both complete, the table holds
    the same rows, and the embedded AWS denied the role nothing (replay's quarantine move found s3:PutObject and
    s3:DeleteObject missing on the quarantine prefix)."""
    workdir: Path = demo["workdir"]
    rows_before = _live_table(demo).scan().to_arrow().num_rows
    inputs = sorted((workdir / "input").rglob("*.ndjson*"))
    date = inputs[0].parent.name  # input/events/<date>/part-NNNN.ndjson
    of_date = [p for p in inputs if p.parent.name == date]
    old = {
        i["manifest_id"]["S"]
        for i in _manifest_items(demo)
        if i["date_prefix"]["S"] == date and i["status"]["S"] == "completed"
    }
    assert old

    replay = _operator(
        demo,
        "replay",
        "--date",
        date,
        "--timeout",
        "240",
        "--lake",
        str(workdir / "lake"),
        "--quarantine",
        str(workdir / "quarantine"),
        "--json",
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    replayed = json.loads(replay.stdout)
    assert replayed["status"] == "completed" and replayed["failed_manifests"] == []
    assert replayed["files"] == replayed["completed_files"] == len(of_date)
    assert set(replayed["old_manifests"]) == old and not old & set(replayed["new_manifests"])
    assert _live_table(demo).scan().to_arrow().num_rows == rows_before

    maintain = _operator(demo, "maintain", "--json")
    assert maintain.returncode == 0, maintain.stdout + maintain.stderr
    report = json.loads(maintain.stdout)
    assert report["current_snapshot_id"] == _live_table(demo).metadata.current_snapshot_id
    assert _live_table(demo).scan().to_arrow().num_rows == rows_before
    _assert_operator_denied_nothing(demo)
