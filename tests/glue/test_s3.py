"""s3:// manifests, inputs, outputs and quarantine, against a moto S3 server (as on Glue, minus AWS)."""

from __future__ import annotations

import datetime as dt
import io
import json

import boto3
import pyarrow.parquet as pq
import pytest

from glue_jobs.ndjson_to_parquet import parse_job_args, run_job
from pipeline.embedded.sample_data import write_drop
from pipeline.embedded.server import free_port

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_s3_in_s3_out_and_rerun(spark, tmp_path, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    day = dt.date(2026, 11, 22)
    entries = []
    for name, kwargs in (("in/a.ndjson", {"dirty_every": 50}), ("in/b.ndjson.gz", {"gzip": True})):
        local = tmp_path / name.replace("/", "_")
        write_drop(local, 200, seed=len(entries), day=day, **kwargs)
        s3.upload_file(str(local), "lake", name)
        entries.append({"url": f"s3://lake/{name}", "mandatory": True})
    entries.append({"url": "s3://lake/in/missing.ndjson", "mandatory": False})
    manifest = {"manifest_id": "m-s3", "date_prefix": "2026-11-22", "entries": entries}
    s3.put_object(Bucket="lake", Key="manifests/m-s3.json", Body=json.dumps(manifest).encode())
    argv = [
        "--JOB_NAME",
        "s3",
        "--MANIFEST_PATH",
        "s3://lake/manifests/m-s3.json",
        "--OUTPUT_PATH",
        "s3://lake/out",
        "--COMPRESSION_TYPE",
        "zstd",
    ]

    report = run_job(spark, parse_job_args(argv))
    assert report["records_out"] == 400 and report["bad_records"] == 4
    assert report["files_skipped"] == ["s3://lake/in/missing.ndjson"]

    def keys(prefix: str) -> list[str]:
        """Object keys, without the empty directory markers pyarrow's S3 client leaves after deletes."""
        found = s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in found if not (o["Key"].endswith("/") and o["Size"] == 0))

    assert keys("out/dt=2026-11-22/") == ["out/dt=2026-11-22/m-s3.part-00000-000.parquet"]
    assert len(keys("out/_bad_records/dt=2026-11-22/manifest_id=m-s3/")) == 1
    assert keys("out/_reports/") == ["out/_reports/m-s3.json"]
    assert keys("out/_staging") == []  # staging cleaned, no directory markers
    body = s3.get_object(Bucket="lake", Key="out/dt=2026-11-22/m-s3.part-00000-000.parquet")["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 400 and str(table.schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"

    run_job(spark, parse_job_args(argv))  # re-run: same keys, no duplicates
    assert keys("out/dt=2026-11-22/") == ["out/dt=2026-11-22/m-s3.part-00000-000.parquet"]
