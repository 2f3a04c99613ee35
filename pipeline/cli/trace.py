"""`pipeline trace`: where one file is, from its S3 object to the snapshot that made it visible
(pipeline/ops/trace.py does the reads and the assembly; this module parses the options and prints).

One line per fact, as the other operator commands, grouped per tracked content of the object; `--json` prints the
documented shape (docs/runbook.md, "Where is file X?"). Exit status 0 when the file was found (whatever its state),
1 when it is unknown or untracked, 2 for a malformed URL.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipeline.cli.options import AsJsonOpt, GlueDatabaseOpt, GlueTableOpt, StackOptions, stack_options
from pipeline.cli.output import guarded_ops, out, print_json, spinner


def _line(text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def _or(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def print_trace(document: dict[str, Any]) -> None:
    obj = document["object"] or {}
    _line(f"trace of {document['url']} (date {document['date']})")
    if obj.get("exists"):
        _line(
            f"  object: size {_or(obj.get('size'))}, etag {_or(obj.get('etag'))}, version "
            f"{_or(obj.get('version_id'))}, last modified {_or(obj.get('last_modified'))}"
        )
    else:
        _line("  object: gone from S3 (deleted or overwritten); the tracking item remains")
    for journey in document["items"]:
        item = journey["item"]
        marker = {True: " (current content)", False: " (an earlier content)", None: ""}[journey["current"]]
        _line("")
        _line(f"tracking item {journey['file_key']}{marker}")
        _line(
            f"  status {_or(item.get('status'))}, tracked {_or(item.get('created_at'))}, claimed "
            f"{_or(item.get('claimed_at'))}, updated {_or(item.get('updated_at'))}, manifest "
            f"{_or(item.get('manifest_id'))}" + (f", error {item['error']}" if item.get("error") else "")
        )
        manifest = journey["manifest"]
        if manifest:
            listed = (manifest.get("object") or {}).get("lists_file")
            _line(
                f"manifest {manifest['manifest_id']}: {manifest['status']}, attempt {manifest['attempts']}, "
                f"{_or(manifest.get('file_count'))} files, {_or(manifest.get('manifest_path'))}"
                + (
                    ""
                    if listed is None
                    else (" (lists this file)" if listed else " (does NOT list this file)")
                )
            )
            for name in ("error", "job_error", "superseded_by"):
                if manifest.get(name):
                    _line(f"  {name}: {manifest[name]}")
        execution = journey["execution"]
        if execution:
            _line(
                f"execution {execution['name']}: {execution['status']}, {_or(execution['started_at'])} -> "
                f"{_or(execution['stopped_at'])}"
                + (f", error {execution['error']}" if execution.get("error") else "")
            )
            for state in execution["states"]:
                seconds = "" if state["seconds"] is None else f" {state['seconds']}s"
                _line(f"  {state['name']}: {state['status']}{seconds}")
                if state.get("error"):
                    _line(f"    error {state['error']}: {str(state.get('cause') or '')[:300]}")
        run = journey["glue_run"]
        if run:
            _line(
                f"glue run {run['run_id']} ({run['job_name']}): {run['state']}, {_or(run['seconds'])} s"
                + (f", {run['dpu_seconds']} DPU-seconds" if run.get("dpu_seconds") is not None else "")
            )
            if run.get("error"):
                _line(f"  error: {str(run['error'])[:300]}")
        output = journey["output"]
        if output:
            _line(f"rows written for this file: {_or(output['rows_written'])} ({output['rows_source']})")
            quarantine = output.get("quarantine")
            if quarantine is not None:
                reasons = ", ".join(f"{k} {v}" for k, v in sorted(quarantine["by_reason"].items())) or "none"
                _line(
                    f"lines quarantined for this file: {quarantine['lines']} ({reasons}) under {quarantine['path']}"
                )
                for sample in quarantine["samples"]:
                    _line(f"  offset {sample['offset']}: {sample['reason']} | {sample['raw_line']}")
        snapshot = journey["snapshot"]
        if snapshot:
            _line(
                f"snapshot {snapshot['snapshot_id']} of {snapshot['table']} ({snapshot['operation']}, "
                f"{snapshot['committed_at']}, +{snapshot['added_rows']} rows) made it visible"
                + ("" if snapshot["in_current_table"] else "; no longer in the current table")
            )
        for step in journey["timeline"]:
            _line(f"  {step['at']}  {step['event']}" + (f"  {step['detail']}" if step["detail"] else ""))
        for note in journey["notes"]:
            _line(f"note: {note}")


@stack_options()
def trace_command(
    url: Annotated[
        str | None, typer.Argument(help="The object's s3://bucket/key.", show_default=False)
    ] = None,
    version_id: Annotated[
        str | None, typer.Option("--version-id", help="Only this S3 object version.", show_default=False)
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="The tracking date (YYYY-MM-DD) to look in.", show_default=False),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="With --date: an object key of the input bucket, or a tracking item's F#... key.",
            show_default=False,
        ),
    ] = None,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="The input bucket (with --key).", show_default=False)
    ] = None,
    output_path: Annotated[
        str | None, typer.Option("--output-path", help="s3:// table location.", show_default=False)
    ] = None,
    bad_records_path: Annotated[
        str | None, typer.Option("--bad-records-path", help="s3:// quarantine location.", show_default=False)
    ] = None,
    glue_database: GlueDatabaseOpt = None,
    glue_table: GlueTableOpt = None,
    as_json: AsJsonOpt = False,
    *,
    stack: StackOptions,
) -> None:
    """One file's journey: the S3 object, its tracking item(s), the manifest, the execution and its states, the
    Glue run, the rows written and lines quarantined for that file, and the Iceberg snapshot that made it visible."""
    from pipeline.ops.trace import TraceRequest, trace

    def body() -> int:
        ctx = stack.context(
            input_bucket=bucket,
            output_path=output_path,
            bad_records_path=bad_records_path,
            glue_database=glue_database,
            glue_table=glue_table,
        )
        request = TraceRequest.of(
            url, version_id=version_id, date=date, key=key, bucket=ctx.stack.input_bucket
        )
        with spinner("reading S3, the tracking table, Step Functions, Glue and the table"):
            document = trace(ctx, request).as_dict()
        if as_json:
            print_json(document)
        else:
            print_trace(document)
        return 0

    raise typer.Exit(guarded_ops(body))


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_command)
