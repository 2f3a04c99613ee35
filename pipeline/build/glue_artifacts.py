"""Builds the two artefacts the Glue job is deployed as: the entry script and the job package zip.

Glue runs one script (the job's ScriptLocation) and puts `--extra-py-files` zips on the driver's and every
executor's path, so the job ships as the thin entry `glue_jobs/run_ndjson_to_parquet.py` plus a zip holding the
`ndjson_to_parquet` package (with the codec list, `glue_jobs/codecs.json`, inside it) and `pipeline/contracts`
(stdlib only: the line rule the job shares with the control plane) - nothing else of `pipeline`, so the job can
never come to depend on the CLI, the embedded AWS or the build tools. Terraform uploads both (variables
`glue_script_path` and `glue_package_path`); the embedded Glue runner checks that what it runs is what was
uploaded. The zip is byte-for-byte reproducible (the Lambda zip's writer), so an unchanged job changes no
object's hash and Terraform uploads nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.lambda_zip import write_reproducible_zip

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "dist" / "glue"
SCRIPT_NAME = "run_ndjson_to_parquet.py"
PACKAGE_NAME = "ndjson_to_parquet.zip"
JOB_PACKAGE = "ndjson_to_parquet"
CODECS_FILE = "codecs.json"


@dataclass(frozen=True)
class GlueArtifacts:
    script: Path
    package: Path


def _python_tree(root: Path, archive_prefix: str) -> dict[str, Path]:
    """Archive name -> file for the files under `root`, without bytecode caches."""
    return {
        f"{archive_prefix}/{path.relative_to(root).as_posix()}": path
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def package_files(repo_root: Path = REPO_ROOT) -> dict[str, Path]:
    """What the job zip holds: ndjson_to_parquet/** (+ codecs.json), pipeline/__init__.py, pipeline/contracts/**."""
    files = _python_tree(repo_root / "glue_jobs" / JOB_PACKAGE, JOB_PACKAGE)
    files[f"{JOB_PACKAGE}/{CODECS_FILE}"] = repo_root / "glue_jobs" / CODECS_FILE
    files["pipeline/__init__.py"] = repo_root / "pipeline" / "__init__.py"
    files.update(_python_tree(repo_root / "pipeline" / "contracts", "pipeline/contracts"))
    return files


def build_glue_artifacts(out_dir: Path = DEFAULT_OUT, repo_root: Path = REPO_ROOT) -> GlueArtifacts:
    """Write `<out_dir>/run_ndjson_to_parquet.py` and `<out_dir>/ndjson_to_parquet.zip` (each replaced
    atomically) and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    script = out_dir / SCRIPT_NAME
    tmp = script.with_name(script.name + ".tmp")
    shutil.copyfile(repo_root / "glue_jobs" / SCRIPT_NAME, tmp)
    tmp.replace(script)
    package = write_reproducible_zip(out_dir / PACKAGE_NAME, package_files(repo_root))
    return GlueArtifacts(script=script, package=package)
