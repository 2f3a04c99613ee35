"""The Lambda zip: complete, self-sufficient and reproducible."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from pipeline.build.lambda_zip import REPO_ROOT, build_lambda_zip


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
