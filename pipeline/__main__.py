"""`python -m pipeline` = the `pipeline` console script."""

from pipeline.cli.app import app

if __name__ == "__main__":
    app(prog_name="pipeline")
