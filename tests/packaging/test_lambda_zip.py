"""The Lambda zip: complete, self-sufficient and reproducible."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile

import pytest

from pipeline.build.lambda_zip import REPO_ROOT, build_lambda_zip

# The operator CLI, the embedded AWS, the checker and the job's libraries: none may be imported by what the
# Lambda runs, not even lazily inside a function (an import the handler test cannot reach).
NOT_IN_LAMBDA = frozenset({"typer", "rich", "pyarrow", "duckdb", "pyspark", "moto"})


@pytest.fixture(scope="module")
def zip_sources(tmp_path_factory) -> dict[str, str]:
    """Archive name -> source, for every .py file of a freshly built zip."""
    path = build_lambda_zip(tmp_path_factory.mktemp("zip") / "lambda.zip")
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".py")}


def _module_of(archive_name: str) -> str:
    parts = archive_name.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(archive_name: str, source: str) -> set[str]:
    """Absolute names of every module an `import` / `from ... import` statement anywhere in the file names."""
    package = _module_of(archive_name)
    if not archive_name.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=archive_name)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            # `from package import name`: `name` may be a submodule (kept apart from attributes by the caller).
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_zip_holds_handlers_library_and_powertools_only(tmp_path):
    path = build_lambda_zip(tmp_path / "lambda.zip")
    names = set(zipfile.ZipFile(path).namelist())
    handlers = {p.name for p in (REPO_ROOT / "lambda").glob("*.py")}
    assert handlers and handlers <= names
    assert "pipeline/__init__.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert not any(
        n.startswith(
            (
                "pyspark/",
                "pipeline/embedded/",
                "pipeline/build/",
                "pipeline/cli/",
                "pipeline/ops/",
                "pipeline/checks/",
                "boto3/",
            )
        )
        for n in names
    )
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_zip_is_reproducible(tmp_path):
    first = build_lambda_zip(tmp_path / "a.zip").read_bytes()
    second = build_lambda_zip(tmp_path / "b.zip").read_bytes()
    assert first == second


def test_handlers_import_from_the_zip_alone(tmp_path):
    """Import every handler with only the zip (and the runtime's boto3) on the path, as Lambda does."""
    path = build_lambda_zip(tmp_path / "lambda.zip")
    extract = tmp_path / "task"
    zipfile.ZipFile(path).extractall(extract)
    env_site = [p for p in sys.path if p.endswith("site-packages")]
    script = (
        "import sys, importlib;"
        f"sys.path[:] = [{str(extract)!r}] + [p for p in sys.path if 'site-packages' not in p];"
        # boto3/botocore come with the Lambda runtime: make only those visible from the environment.
        f"import importlib.util, importlib.machinery;"
        f"sys.path.append({str(tmp_path / 'runtime')!r});"
        "[importlib.import_module(m) for m in sys.argv[1:]]"
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for package in ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "jmespath"):
        for site in env_site:
            source = __import__("pathlib").Path(site) / package
            if source.exists():
                (runtime / package).symlink_to(source)
                break
    modules = [p.stem for p in (REPO_ROOT / "lambda").glob("*.py")]
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONNOUSERSITE": "1",
        "TRACKING_TABLE": "tracking",
        "MANIFEST_BUCKET": "manifests",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
        "MAX_FILES_PER_MANIFEST": "10",
        "MAX_BYTES_PER_MANIFEST": "1000000",
        "MAX_BATCH_WAIT_SECONDS": "60",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "test",
    }
    proc = subprocess.run(
        [sys.executable, "-S", "-c", script, *modules],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_zip_imports_no_cli_data_spark_or_emulator_library(zip_sources):
    """Scans the imports (ast) of every .py file in the zip, ours and the bundled libraries'."""
    offending = sorted(
        f"{name}: import {module}"
        for name, source in zip_sources.items()
        for module in _imported_modules(name, source)
        if module.split(".")[0] in NOT_IN_LAMBDA
    )
    assert offending == []


def test_every_pipeline_import_in_the_zip_is_in_the_zip(zip_sources):
    """The allow-list holds: every module of `pipeline` that the handlers and the packaged `pipeline` import (at
    the top or lazily) was packaged."""
    packaged = {_module_of(name) for name in zip_sources}
    ours = {
        _module_of(path.relative_to(REPO_ROOT).as_posix()) for path in (REPO_ROOT / "pipeline").rglob("*.py")
    }
    imported = {
        module
        for name, source in zip_sources.items()
        if name.startswith("pipeline/") or "/" not in name
        for module in _imported_modules(name, source)
        if module in ours
    }
    assert "pipeline.control_plane.bootstrap" in imported
    assert sorted(imported - packaged) == []
