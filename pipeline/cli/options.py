"""Every option more than one command takes, defined once under one name.

The operator commands share the stack options (`--outputs`, `--endpoint-url`, `--region`, `--profile`, and the
name flags `--table`, `--state-machine-arn`, `--function-name`): `@stack_options()` appends them to a command's
own options (in that order, after them, as the help always listed them) and hands them over as one
`StackOptions`, which builds the command's `OpsContext`. Two options print JSON and so get two names:
`AsJsonOpt` (`--json`: JSON on stdout instead of tables) and `SummaryJsonOpt` (`--summary-json FILE`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pipeline.ops.stack_names import OUTPUTS_ENV

if TYPE_CHECKING:
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
    "outputs": OutputsOpt,
    "endpoint_url": EndpointOpt,
    "region": RegionOpt,
    "profile": ProfileOpt,
}
_NAME_OPTIONS: dict[str, Any] = {
    "table": TableOpt,
    "state_machine_arn": StateMachineOpt,
    "function_name": FunctionOpt,
}


def stack_options(*, names: bool = True) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command the stack options (`names=False`: only the four that reach AWS) as `stack: StackOptions`.

    typer reads a command's options from its signature, so the wrapper's signature is the command's own
    parameters (without `stack`) followed by the stack options; the wrapper folds them into one `StackOptions`.
    """
    added = {**_CONNECTION_OPTIONS, **(_NAME_OPTIONS if names else {})}

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != "stack"]
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for name, annotation in added.items()
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            stack = StackOptions(**{name: kwargs.pop(name) for name in added})
            return command(stack=stack, **kwargs)

        parameters = [*own, *extra]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


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
CleanOpt = Annotated[bool, typer.Option("--clean", help="Empty the lake, quarantine and logs first.")]
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
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for every file to be converted.")
]
BatchOpt = Annotated[int, typer.Option("--max-files-per-manifest", help="Files per batch (manifest).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show the log on the terminal too.")]
SummaryJsonOpt = Annotated[
    Path | None, typer.Option("--summary-json", help="Also write the summary to this file.")
]
