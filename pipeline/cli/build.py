"""The build commands: the artifacts Terraform deploys (`build-lambda`, `build-glue`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.output import console, guarded


def build_lambda(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path("dist/lambda.zip"),
) -> None:
    """Build the Lambda deployment zip that Terraform deploys (handlers, `pipeline`, powertools; offline)."""
    from pipeline.build.lambda_zip import build_lambda_zip

    path = guarded(lambda: build_lambda_zip(out))
    console.print(f"{path} ({path.stat().st_size / 1_000_000:.1f} MB)")


def build_glue(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the two files to.")] = Path(
        "dist/glue"
    ),
) -> None:
    """Build the Glue job's entry script and package zip that Terraform uploads (offline, reproducible)."""
    from pipeline.build.glue_artifacts import build_glue_artifacts

    artifacts = guarded(lambda: build_glue_artifacts(out))
    for path in (artifacts.script, artifacts.package):
        console.print(f"{path} ({path.stat().st_size / 1_000:.1f} kB)")


def register(app: typer.Typer) -> None:
    """Add the build commands to the `pipeline` app."""
    app.command("build-lambda")(build_lambda)
    app.command("build-glue")(build_glue)
