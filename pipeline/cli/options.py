"""Every option more than one command takes, defined once under one name.

The operator commands share the stack options (`--outputs`, `--endpoint-url`, `--region`, `--profile`, and the
name flags `--table`, `--state-machine-arn`, `--function-name`): `@stack_options()` appends them to a command's
own options (in that order, after them, as the help always listed them) and hands them over as one
`StackOptions`, which builds the command's `OpsContext`. `demo` and `run` share the options of a pipeline run the
same way (`@run_choices(timeout=...)` -> `RunChoices`, which builds the `RunOptions`). Two options print JSON and
so get two names: `AsJsonOpt` (`--json`: JSON on stdout instead of tables) and `SummaryJsonOpt`
(`--summary-json FILE`). Keeping the names here keeps every command's flags, help and defaults identical.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pipeline.ops.stack_names import OUTPUTS_ENV

if TYPE_CHECKING:
    from pipeline.embedded.run import RunOptions
    from pipeline.ops.context import OpsContext

R = TypeVar("R")

# ------------------------------------------------------------------------------------------ operator commands

OutputsOpt = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        envvar=OUTPUTS_ENV,
        help="Terraform outputs JSON (`terraform output -json`).",
        show_default=False,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        help="AWS endpoint (the embedded AWS); default: real AWS.",
        show_default=False,
    ),
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: the outputs', then boto3's).")
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile of the credential chain.")]
TableOpt = Annotated[str | None, typer.Option("--table", help="Tracking table name.")]
FunctionOpt = Annotated[
    str | None,
    typer.Option("--function-name", help="Manifest builder Lambda (its environment configures us)."),
]
StateMachineOpt = Annotated[str | None, typer.Option("--state-machine-arn", help="State machine ARN.")]
AsJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
DatesOpt = Annotated[
    list[str] | None,
    typer.Option("--date", help="A date (YYYY-MM-DD); repeat for several.", show_default=False),
]
DaysOpt = Annotated[int, typer.Option("--days", min=1, max=366, help="Without --date: the last N UTC days.")]
DlqUrlOpt = Annotated[str | None, typer.Option("--dlq-url", help="Dead-letter queue URL.")]
QueueUrlOpt = Annotated[str | None, typer.Option("--queue-url", help="Ingest queue URL.")]


@dataclass(frozen=True)
class StackOptions:
    """The stack options of an operator command: how to reach AWS, and names that override the outputs."""

    outputs: Path | None = None
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    table: str | None = None
    state_machine_arn: str | None = None
    function_name: str | None = None

    def context(self, **names: Any) -> OpsContext:
        """The command's AWS session and stack names (`names`: the command's own name flags, e.g. dlq_url)."""
        from pipeline.ops.aws import AwsSession
        from pipeline.ops.context import OpsContext
        from pipeline.ops.stack_names import resolve

        stack = resolve(
            self.outputs,
            region=self.region,
            tracking_table=self.table,
            state_machine_arn=self.state_machine_arn,
            function_name=self.function_name,
            **names,
        )
        session = AwsSession.create(
            endpoint_url=self.endpoint_url, region=stack.region or self.region, profile=self.profile
        )
        return OpsContext(aws=session, stack=stack)


_CONNECTION_OPTIONS: dict[str, Any] = {
    "outputs": (OutputsOpt, None),
    "endpoint_url": (EndpointOpt, None),
    "region": (RegionOpt, None),
    "profile": (ProfileOpt, None),
}
_NAME_OPTIONS: dict[str, Any] = {
    "table": (TableOpt, None),
    "state_machine_arn": (StateMachineOpt, None),
    "function_name": (FunctionOpt, None),
}


def option_set(
    into: str, build: Callable[..., Any], options: dict[str, tuple[Any, Any]]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Append `options` (name -> (annotation, default)) to a command's own, and hand them over as one value.

    typer reads a command's options from its signature, so the wrapper's signature is the command's own
    parameters (without `into`) followed by `options`, in that order; the wrapper calls `build(**those values)`
    and passes the result to the command as its keyword `into`.
    """

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != into]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, (annotation, default) in options.items()
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            kwargs[into] = build(**{name: kwargs.pop(name) for name in options})
            return command(**kwargs)

        parameters = [*own, *extra]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


def stack_options(*, names: bool = True) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the stack options (`names=False`: only the four that reach AWS) as `stack: StackOptions`."""
    return option_set("stack", StackOptions, {**_CONNECTION_OPTIONS, **(_NAME_OPTIONS if names else {})})


# The output table's names, for the commands that reach the table itself (schema, maintain).
OutputPathOpt = Annotated[str | None, typer.Option("--output-path", help="s3:// table location.")]
GlueDatabaseOpt = Annotated[str | None, typer.Option("--glue-database", help="Glue database of the table.")]
GlueTableOpt = Annotated[str | None, typer.Option("--glue-table", help="Glue table name.")]


# ------------------------------------------------------------------------------------------ embedded commands

WorkdirOpt = Annotated[
    Path,
    typer.Option(
        "--workdir", "-w", help="Work folder: lake, quarantine, logs, Terraform state. Kept between runs."
    ),
]
PortOpt = Annotated[
    int | None, typer.Option("--port", help="Port of the embedded AWS (default: a free one).")
]
CleanOpt = Annotated[
    bool,
    typer.Option(
        "--clean",
        help="First remove the lake, quarantine, logs and demo input that earlier runs created (listed in "
        "<workdir>/.pipeline-created.json); never a folder you made.",
    ),
]
KeepOpt = Annotated[
    bool, typer.Option("--keep-running", help="Keep the embedded AWS up after the run (Ctrl-C stops it).")
]
CompressionOpt = Annotated[
    str | None,
    typer.Option(
        "--compression",
        help="Parquet codec passed to the Glue job "
        "as --COMPRESSION_TYPE (Terraform variable compression_type).",
    ),
]

CompressionLevelOpt = Annotated[
    int | None,
    typer.Option(
        "--compression-level",
        help="Level of the codec passed to the Glue job as --COMPRESSION_LEVEL (Terraform variable "
        "compression_level): zstd 1-22 (default 3), gzip 1-9 (default 9), brotli 0-11 (default 8); other codecs "
        "take none.",
        show_default=False,
    ),
]


class TableFormat(StrEnum):
    iceberg = "iceberg"
    parquet = "parquet"


TableFormatOpt = Annotated[
    TableFormat,
    typer.Option(
        "--table-format",
        help="iceberg: one Iceberg commit per batch (the default); parquet: Hive-style dt= folders "
        "(Terraform variable table_format).",
        case_sensitive=False,
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for every file to be converted.")
]
BadRatioOpt = Annotated[
    float | None,
    typer.Option(
        "--max-bad-ratio",
        help="A batch fails (nothing published) when more than this share of its lines is bad: the job's "
        "--MAX_BAD_RECORD_RATIO (Terraform variable max_bad_record_ratio; default 0.05).",
        show_default=False,
    ),
]
BatchOpt = Annotated[int, typer.Option("--max-files-per-manifest", help="Files per batch (manifest).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show the log on the terminal too.")]
SummaryJsonOpt = Annotated[
    Path | None, typer.Option("--summary-json", help="Also write the summary to this file.")
]


@dataclass(frozen=True)
class RunChoices:
    """The options `pipeline demo` and `pipeline run` share (after their own): how to run and what to report."""

    keep_running: bool = False
    clean: bool = False
    port: int | None = None
    compression: str | None = None
    compression_level: int | None = None
    max_bad_ratio: float | None = None
    table_format: TableFormat = TableFormat.iceberg
    max_files_per_manifest: int = 10
    timeout: float = 900.0
    summary_json: Path | None = None
    verbose: bool = False

    def run_options(self, workdir: Path, *, duplicate_notification: bool) -> RunOptions:
        """The run's options, each checked first (PipelineError InvalidOption or UnsupportedCompression, exit 2:
        nothing started) against the bounds Terraform's validation also applies (preflight.OPTION_BOUNDS)."""
        from pipeline.embedded import preflight
        from pipeline.embedded.run import RunOptions

        preflight.check_bounds("port", self.port)
        preflight.check_bounds("max_files_per_manifest", self.max_files_per_manifest)
        preflight.check_bounds("max_bad_record_ratio", self.max_bad_ratio)
        preflight.check_positive("--timeout", self.timeout)
        compression = preflight.check_compression(self.compression)
        variables: dict[str, object] = {}
        if self.max_bad_ratio is not None:
            variables["max_bad_record_ratio"] = self.max_bad_ratio
        if self.compression_level is not None:
            variables["compression_level"] = preflight.check_compression_level(
                compression, self.compression_level
            )
        return RunOptions(
            workdir=workdir,
            port=self.port,
            clean=self.clean,
            compression=compression,
            table_format=self.table_format.value,
            max_files_per_manifest=self.max_files_per_manifest,
            terraform_variables=variables,
            timeout_seconds=self.timeout,
            duplicate_notification=duplicate_notification,
            keep_running=self.keep_running,
        )


def run_choices(*, timeout: float) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the options of a pipeline run as `choices: RunChoices` (`timeout`: its --timeout default)."""
    return option_set(
        "choices",
        RunChoices,
        {
            "keep_running": (KeepOpt, False),
            "clean": (CleanOpt, False),
            "port": (PortOpt, None),
            "compression": (CompressionOpt, None),
            "compression_level": (CompressionLevelOpt, None),
            "max_bad_ratio": (BadRatioOpt, None),
            "table_format": (TableFormatOpt, TableFormat.iceberg),
            "max_files_per_manifest": (BatchOpt, 10),
            "timeout": (TimeoutOpt, timeout),
            "summary_json": (SummaryJsonOpt, None),
            "verbose": (VerboseOpt, False),
        },
    )
