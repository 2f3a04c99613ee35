"""The Glue artefacts: the entry script as written, and a zip holding the job package and the contracts only,
reproducible, from which the job runs with nothing of the checkout on the path."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from pipeline.build.glue_artifacts import REPO_ROOT, build_glue_artifacts

PACKAGE = REPO_ROOT / "glue_jobs" / "ndjson_to_parquet"
CONTRACTS = REPO_ROOT / "pipeline" / "contracts"


def _expected_names() -> set[str]:
    names = {f"ndjson_to_parquet/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.rglob("*.py")}
    names |= {f"pipeline/contracts/{p.relative_to(CONTRACTS).as_posix()}" for p in CONTRACTS.rglob("*.py")}
    return names | {"ndjson_to_parquet/codecs.json", "pipeline/__init__.py"}


def test_zip_holds_the_job_package_and_the_contracts_only(tmp_path):
    artifacts = build_glue_artifacts(tmp_path / "glue")
    with zipfile.ZipFile(artifacts.package) as archive:
        assert set(archive.namelist()) == _expected_names()
        assert (
            archive.read("ndjson_to_parquet/codecs.json")
            == (REPO_ROOT / "glue_jobs" / "codecs.json").read_bytes()
        )
        assert archive.read("ndjson_to_parquet/job.py") == (PACKAGE / "job.py").read_bytes()
    assert artifacts.script.name == "run_ndjson_to_parquet.py"
    assert (
        artifacts.script.read_bytes() == (REPO_ROOT / "glue_jobs" / "run_ndjson_to_parquet.py").read_bytes()
    )


def test_artifacts_are_reproducible(tmp_path):
    first = build_glue_artifacts(tmp_path / "a")
    second = build_glue_artifacts(tmp_path / "b")
    assert first.package.read_bytes() == second.package.read_bytes()
    assert first.script.read_bytes() == second.script.read_bytes()


_FROM_THE_ZIP = r"""
import json, sys
# Glue has no install of this project: drop the editable install's finder (it maps `pipeline`, `glue_jobs`).
sys.meta_path = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
sys.path.insert(0, sys.argv[1])
import ndjson_to_parquet
import pipeline.contracts.lines
from ndjson_to_parquet import load_manifest, parse_job_args
from ndjson_to_parquet.plan import plan_reads
from ndjson_to_parquet.tasks import read_task
from dataclasses import replace
try:
    import pipeline.embedded
    embedded = True
except ImportError:
    embedded = False
try:
    import glue_jobs
    checkout = True
except ImportError:
    checkout = False
args = parse_job_args(["--JOB_NAME", "t", "--MANIFEST_PATH", sys.argv[2], "--OUTPUT_PATH", sys.argv[3],
                       "--COMPRESSION_TYPE", "zstd"])
tasks, skipped, bytes_in = plan_reads(load_manifest(args.manifest_path), sys.argv[3] + "/_staging")
result = read_task(replace(tasks[0], codec=args.compression))
print(json.dumps({
    "package": ndjson_to_parquet.__file__, "lines": pipeline.contracts.lines.__file__,
    "embedded": embedded, "checkout": checkout,
    "records": result.records, "bad": result.bad, "rows": sum(p.rows for p in result.pieces),
}))
"""


def test_the_job_parses_a_manifest_from_the_zip_alone(tmp_path):
    artifacts = build_glue_artifacts(tmp_path / "glue")
    data = tmp_path / "in.ndjson"
    data.write_bytes(b'{"a": 1}\n\n{"a": 2, "b": "x"}\nnot json\n')
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps({"manifest_id": "m-1", "date_prefix": "2026-11-22", "entries": [{"url": str(data)}]})
    )
    proc = subprocess.run(  # -I: no PYTHONPATH, no working directory, no user site: the zip and site-packages
        [
            sys.executable,
            "-I",
            "-c",
            _FROM_THE_ZIP,
            str(artifacts.package),
            str(manifest),
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(artifacts.package)) and out["lines"].startswith(
        str(artifacts.package)
    )
    assert not out["embedded"] and not out["checkout"]
    assert (out["records"], out["bad"], out["rows"]) == (3, 1, 2)
