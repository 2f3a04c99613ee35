"""The build commands: the artifacts Terraform deploys (`build-lambda`; the Glue job's artifacts join here)."""

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


def register(app: typer.Typer) -> None:
    """Add the build commands to the `pipeline` app."""
    app.command("build-lambda")(build_lambda)
