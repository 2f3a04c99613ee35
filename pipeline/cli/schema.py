"""`pipeline schema show|diff|evolve`: the table's schema contract (pipeline/ops/schema.py).

The table is the stack's (real AWS or the embedded one, names from `--outputs` or flags, as the other operator
commands) or, with `--lake DIR`, the output folder of a local run of the job (`python glue_jobs/... --OUTPUT_PATH
DIR`). `evolve` prints the change and makes it only with `--apply`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from pipeline.cli.options import (
    AsJsonOpt,
    GlueDatabaseOpt,
    GlueTableOpt,
    OutputPathOpt,
    StackOptions,
    stack_options,
)
from pipeline.cli.output import guarded_ops, out, print_json

LakeOpt = Annotated[
    Path | None,
    typer.Option(
        "--lake", help="A local job output folder instead of the stack's table.", show_default=False
    ),
]

schema_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The table's schema contract: show it, diff a sample against it, evolve it explicitly.",
)


def _target(
    stack: StackOptions, lake: Path | None, output_path: str | None, database: str | None, table: str | None
) -> tuple[Any, Any]:
    from pipeline.ops.schema import local_target, stack_target

    if lake is not None:
        return local_target(lake), None
    ctx = stack.context(output_path=output_path, glue_database=database, glue_table=table)
    return stack_target(ctx), ctx


def _columns(title: str, columns: list[dict[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("column", no_wrap=True)
    table.add_column("type")
    for column in columns:
        table.add_row(column["name"], column["type"])
    return table


@schema_app.command("show")
@stack_options(names=False)
def show_command(
    lake: LakeOpt = None,
    output_path: OutputPathOpt = None,
    glue_database: GlueDatabaseOpt = None,
    glue_table: GlueTableOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """Print the table's contract: its data columns and types, and where it is kept."""
    from pipeline.ops.schema import show

    def body() -> int:
        target, ctx = _target(stack, lake, output_path, glue_database, glue_table)
        view = show(target, ctx)
        if as_json:
            print_json(view.as_dict())
            return 0
        if not view.details.get("exists"):
            out.print(f"{view.source}: no contract yet (the first batch creates it)")
            return 0
        out.print(_columns(f"contract of {view.source} ({view.table_format})", view.columns))
        if view.details.get("schema_id") is not None:
            out.print(
                f"schema id {view.details['schema_id']}, current snapshot {view.details['snapshot_id']}, "
                f"{view.details['snapshots']} snapshots"
            )
        return 0

    raise typer.Exit(guarded_ops(body))


@schema_app.command("diff")
@stack_options(names=False)
def diff_command(
    files: Annotated[list[str], typer.Argument(help="Sample NDJSON files (local paths or s3:// URLs).")],
    lake: LakeOpt = None,
    output_path: OutputPathOpt = None,
    glue_database: GlueDatabaseOpt = None,
    glue_table: GlueTableOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """What a batch of these files would change in the table: columns added, promotions, values conformed."""
    from pipeline.ops.schema import sample_schema, schema_diff

    def body() -> int:
        target, ctx = _target(stack, lake, output_path, glue_database, glue_table)
        s3 = ctx.client("s3") if ctx is not None and any(f.startswith("s3://") for f in files) else None
        result = schema_diff(target, sample_schema(files, s3), ctx)
        if as_json:
            print_json(result)
            return 0
        sample = result["sample"]
        out.print(
            f"sample: {sample['files']} file(s), {sample['records']} records ({sample['bad_lines']} not JSON "
            f"objects) against {result['source']} ({result['table_format']})"
        )
        if result["creates_table"]:
            out.print("the table has no contract yet: this batch would create it")
        if not result["changes"]:
            out.print("no change: every field of the sample fits the table as it is")
            return 0
        table = Table(box=box.SIMPLE_HEAD)
        for column in ("field", "change", "table type", "sample type", "what the job does"):
            table.add_column(column, no_wrap=column != "what the job does")
        for change in result["changes"]:
            table.add_row(
                change["field"],
                change["change"],
                str(change.get("table_type") or "-"),
                str(change.get("batch_type") or "-"),
                str(change.get("rule") or ""),
            )
        out.print(table)
        return 0

    raise typer.Exit(guarded_ops(body))


@schema_app.command("evolve")
@stack_options(names=False)
def evolve_command(
    add: Annotated[list[str], typer.Option("--add", help="NAME:TYPE, a new column.")] = [],  # noqa: B006
    promote: Annotated[
        list[str], typer.Option("--promote", help="NAME:TYPE, an Iceberg promotion (int->long, ...).")
    ] = [],  # noqa: B006
    rename: Annotated[list[str], typer.Option("--rename", help="OLD:NEW (Iceberg only).")] = [],  # noqa: B006
    apply: Annotated[bool, typer.Option("--apply", help="Make the change (default: only show it).")] = False,
    lake: LakeOpt = None,
    output_path: OutputPathOpt = None,
    glue_database: GlueDatabaseOpt = None,
    glue_table: GlueTableOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """An explicit schema change the job never makes by itself; shown first, made with --apply."""
    from pipeline.ops.schema import SchemaChange, apply_change

    def body() -> int:
        change = SchemaChange.parse(add, promote, rename)
        target, ctx = _target(stack, lake, output_path, glue_database, glue_table)
        result = apply_change(target, change, ctx, apply=apply)  # checked against the contract either way
        if as_json:
            print_json(result)
            return 0
        verb = "applied" if apply else "would apply (run again with --apply to make the change)"
        out.print(f"{result['source']}: {verb}:")
        for line in change.lines():
            out.print(f"  {line}")
        if result.get("schema_id") is not None:
            out.print(f"new schema id {result['schema_id']}")
        return 0

    raise typer.Exit(guarded_ops(body))


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")
