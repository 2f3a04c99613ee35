"""The local Glue runner with the real job on the shared SparkSession and the embedded S3.

The session fixture's JVM may predate the embedded endpoint, so the runner stages the manifest and inputs
(`stage_inputs=True`, the mode used whenever the caller brings its own SparkSession).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from pipeline.build.glue_artifacts import build_glue_artifacts
from pipeline.embedded.bridges import GlueRunFailed, GlueRunRequest
from pipeline.embedded.glue_runner import GlueRunner
from pipeline.embedded.sample_data import write_drop
from pipeline.embedded.server import EmbeddedAws

pytestmark = pytest.mark.spark

BUCKET_IN, BUCKET_OUT = "runner-input", "runner-output"


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    with EmbeddedAws() as embedded:
        s3 = embedded.client("s3")
        for bucket in (BUCKET_IN, BUCKET_OUT, "runner-manifests", "runner-artifacts"):
            s3.create_bucket(Bucket=bucket)
        _deploy_job(embedded, build_glue_artifacts(tmp_path_factory.mktemp("glue")))
        yield embedded


def _deploy_job(aws, artifacts) -> None:
    """What Terraform's glue module does: upload the script and the package, define the job with them."""
    s3 = aws.client("s3")
    s3.upload_file(str(artifacts.script), "runner-artifacts", "glue/run_ndjson_to_parquet.py")
    s3.upload_file(str(artifacts.package), "runner-artifacts", "glue/ndjson_to_parquet.zip")
    aws.client("glue").create_job(
        Name="job",
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://runner-artifacts/glue/run_ndjson_to_parquet.py"},
        DefaultArguments={"--extra-py-files": "s3://runner-artifacts/glue/ndjson_to_parquet.zip"},
    )


def _keys(aws, prefix: str) -> list[str]:
    page = aws.client("s3").list_objects_v2(Bucket=BUCKET_OUT, Prefix=prefix)
    return sorted(o["Key"] for o in page.get("Contents", []))


def _request(manifest_id: str, codec: str = "snappy") -> GlueRunRequest:
    return GlueRunRequest(
        job_name="job",
        run_id=f"jr_{manifest_id}",
        arguments={
            "--MANIFEST_PATH": f"s3://runner-manifests/manifests/{manifest_id}.json",
            "--MANIFEST_ID": manifest_id,
            "--OUTPUT_PATH": f"s3://{BUCKET_OUT}/lake/",
            "--BAD_RECORDS_PATH": f"s3://{BUCKET_OUT}/quarantine/",
            "--COMPRESSION_TYPE": codec,
            "--job-language": "python",  # Glue's own arguments pass through (the job ignores unknown ones)
        },
    )


def _manifest(aws, manifest_id: str, urls: list[str]) -> None:
    body = {
        "manifest_id": manifest_id,
        "date_prefix": "2026-11-20",
        "created_at": "2026-11-20T00:00:00Z",
        "entries": [{"url": url, "mandatory": True} for url in urls],
    }
    aws.client("s3").put_object(
        Bucket="runner-manifests", Key=f"manifests/{manifest_id}.json", Body=json.dumps(body).encode()
    )


def _runner(aws, spark, tmp_path) -> GlueRunner:
    return GlueRunner(
        aws.endpoint_url,
        workdir=tmp_path / "w",
        lake_dir=tmp_path / "w" / "lake",
        quarantine_dir=tmp_path / "w" / "quarantine",
        spark=lambda: spark,
        stage_inputs=True,
    )


def test_runs_the_job_and_mirrors_its_output_to_s3_idempotently(aws, spark, tmp_path):
    s3 = aws.client("s3")
    day = dt.date(2026, 11, 20)
    plain = write_drop(tmp_path / "a.ndjson", 200, seed=1, day=day, dirty_every=50)
    zipped = write_drop(tmp_path / "b.ndjson.gz", 100, seed=2, day=day, gzip=True)
    s3.upload_file(str(tmp_path / "a.ndjson"), BUCKET_IN, "2026-11-20/a.ndjson")
    s3.upload_file(str(tmp_path / "b.ndjson.gz"), BUCKET_IN, "2026-11-20/b.ndjson.gz")
    _manifest(
        aws, "m-ok", [f"s3://{BUCKET_IN}/2026-11-20/a.ndjson", f"s3://{BUCKET_IN}/2026-11-20/b.ndjson.gz"]
    )
    runner = _runner(aws, spark, tmp_path)

    runner(_request("m-ok"))
    [record] = runner.runs
    assert record.status == "SUCCEEDED" and record.manifest_id == "m-ok"
    assert record.report["records_out"] == plain.good_lines + zipped.good_lines
    assert record.report["bad_records"] == plain.bad_lines == 4
    first = _keys(aws, "lake/")
    assert any(k.startswith("lake/dt=2026-11-20/") and k.endswith(".parquet") for k in first)
    assert "lake/_reports/m-ok.json" in first
    assert any("quarantine/dt=2026-11-20/manifest_id=m-ok/" in k for k in _keys(aws, "quarantine/"))
    local = sorted(
        p.relative_to(tmp_path / "w" / "lake").as_posix()
        for p in (tmp_path / "w" / "lake").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert [k.removeprefix("lake/") for k in first] == local  # S3 mirrors the local lake exactly
    assert not (tmp_path / "w" / "staging").exists() or not any((tmp_path / "w" / "staging").iterdir())

    runner(_request("m-ok"))  # a re-run replaces that manifest's objects: nothing duplicated
    second = _keys(aws, "lake/")
    local = sorted(
        p.relative_to(tmp_path / "w" / "lake").as_posix()
        for p in (tmp_path / "w" / "lake").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert [k.removeprefix("lake/") for k in second] == local
    assert len([k for k in second if k.endswith(".parquet")]) == len(
        [k for k in first if k.endswith(".parquet")]
    )


def test_a_job_error_fails_the_run_with_its_stable_name(aws, spark, tmp_path):
    _manifest(aws, "m-missing", [f"s3://{BUCKET_IN}/2026-11-20/not-there.ndjson"])
    runner = _runner(aws, spark, tmp_path)
    with pytest.raises(GlueRunFailed, match=r"^ManifestEntryMissing: .*not-there\.ndjson"):
        runner(_request("m-missing"))
    assert runner.runs[0].status == "FAILED"
    _manifest(aws, "m-codec", [f"s3://{BUCKET_IN}/2026-11-20/a.ndjson"])
    with pytest.raises(GlueRunFailed, match=r"^UnsupportedCompression: .*nope"):
        runner(_request("m-codec", codec="nope"))


def test_a_deployed_package_that_differs_from_the_local_code_fails_the_run(aws, spark, tmp_path):
    s3 = aws.client("s3")
    key = "glue/ndjson_to_parquet.zip"
    original = s3.get_object(Bucket="runner-artifacts", Key=key)["Body"].read()
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(io.BytesIO(original)) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            body = source.read(name)
            target.writestr(name, body + b"\n# edited\n" if name == "ndjson_to_parquet/job.py" else body)
    s3.upload_file(str(tampered), "runner-artifacts", key)
    runner = _runner(aws, spark, tmp_path)
    try:
        with pytest.raises(
            GlueRunFailed, match=r"^GlueArtifactMismatch: .*ndjson_to_parquet/job\.py differs"
        ):
            runner(_request("m-ok"))
        assert runner.runs[0].status == "FAILED"
    finally:
        s3.put_object(Bucket="runner-artifacts", Key=key, Body=original)


def test_a_run_that_outlives_the_runner_logs_nothing_on_stderr(tmp_path, capfd):
    # Ctrl-C stops the runner (close) while a run thread is still in flight: that run's failure, logged after the
    # close, must not reach the terminal through Python's last-resort handler (the run's one stderr line rule).
    import logging
    import threading

    from pipeline.embedded.glue_runner import job_log

    runner = GlueRunner(
        "http://127.0.0.1:9",
        workdir=tmp_path / "w",
        lake_dir=tmp_path / "w" / "lake",
        quarantine_dir=tmp_path / "w" / "quarantine",
        spark=lambda: None,  # type: ignore[arg-type,return-value]
    )
    runner._attach_job_log()
    runner.close()
    late = threading.Thread(
        target=lambda: job_log.error("job run jr_late (manifest m) FAILED: after the close")
    )
    late.start()
    late.join()
    assert capfd.readouterr().err == ""
    assert logging.getLogger("pipeline.embedded.glue_job").handlers  # a handler stays, so no last resort
