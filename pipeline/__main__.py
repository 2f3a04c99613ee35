"""`python -m pipeline` = the `pipeline` console script."""

from pipeline.cli import app

if __name__ == "__main__":
    app(prog_name="pipeline")
