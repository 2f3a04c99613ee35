"""Builds the Lambda deployment zip (Terraform has no archive provider here, and a zip is a build artefact anyway).

The zip holds the handlers of `lambda/` at its root, the `pipeline` package beside them, and the pure-Python runtime
dependencies the handlers need that the Lambda Python runtime lacks (aws-lambda-powertools and its requirements),
copied from the installed environment: no network. The archive is byte-for-byte reproducible (sorted entries, fixed
timestamps and modes), so Terraform's `source_code_hash` only changes when the code does.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from pipeline.contracts.errors import PipelineError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ZIP = REPO_ROOT / "dist" / "lambda.zip"

# Distributions bundled with their pure-Python requirements; boto3/botocore come with the Lambda runtime.
BUNDLED_DISTRIBUTIONS = ("aws-lambda-powertools",)
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "s3transfer"})
# What of `pipeline` the Lambda holds: an allow-list, so the operator CLI, the checker, the embedded AWS and the
# build tools (typer, rich, pyarrow, duckdb, pyspark) never reach the zip whatever is added beside them.
LAMBDA_PIPELINE_PARTS = frozenset({"__init__.py", "py.typed", "contracts", "control_plane"})
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class PackagingError(PipelineError):
    error_name = "LambdaPackagingFailed"


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or []:
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
        if match:
            names.append(match.group(0))
    return names


def _distribution_files(root: str) -> dict[str, Path]:
    """Archive name -> file, for `root` and its non-optional requirements, recursively."""
    files: dict[str, Path] = {}
    pending, seen = [root], set()
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen or key in PROVIDED_BY_RUNTIME:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise PackagingError(
                f"The Lambda needs '{name}', which is not installed in this environment: run `make setup`."
            ) from exc
        for entry in dist.files or []:
            path = Path(str(dist.locate_file(entry)))
            archive_name = entry.as_posix()
            if (
                archive_name.startswith("..")
                or "__pycache__" in archive_name
                or archive_name.endswith(".pyc")
            ):
                continue
            if path.is_file():
                files[archive_name] = path
        pending.extend(_requirement_names(dist))
    return files


def _project_files(repo_root: Path) -> dict[str, Path]:
    handlers = sorted((repo_root / "lambda").glob("*.py"))
    if not handlers:
        raise PackagingError(f"No Lambda handlers found in {repo_root / 'lambda'}.")
    files = {path.name: path for path in handlers}
    package = repo_root / "pipeline"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if relative.parts[0] not in LAMBDA_PIPELINE_PARTS:
            continue
        files[f"pipeline/{relative.as_posix()}"] = path
    return files


def build_lambda_zip(dest: Path = DEFAULT_ZIP, repo_root: Path = REPO_ROOT) -> Path:
    """Write the deployment zip to `dest` (created or replaced atomically) and return its path."""
    files = _project_files(repo_root)
    for dist in BUNDLED_DISTRIBUTIONS:
        files.update(_distribution_files(dist))
    return write_reproducible_zip(Path(dest), files)


def write_reproducible_zip(dest: Path, files: Mapping[str, Path]) -> Path:
    """Write `files` (archive name -> file) to `dest` atomically, byte-for-byte reproducibly: sorted entries,
    fixed timestamps and modes (also used for the Glue job's zip, pipeline/build/glue_artifacts.py)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for archive_name in sorted(files):
            info = zipfile.ZipInfo(archive_name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[archive_name].read_bytes())
    tmp.replace(dest)
    return dest
