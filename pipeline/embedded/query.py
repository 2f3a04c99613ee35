"""DuckDB over the local lake: the table an analyst would query in Athena, on one machine.

The lake is the folder the embedded pipeline writes (`<workdir>/lake`): Hive-style partitions (`dt=YYYY-MM-DD/`)
of Parquet files. It is exposed as one view (default name `events`) with the partition columns typed, files with
different schemas unioned by column name. Folders starting with `_` or `.` (job reports, quarantine, temporary
output) are not part of the table.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.contracts.errors import PipelineError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RUN_INFO_FILE = "pipeline-run.json"


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def lake_files(lake: Path) -> list[Path]:
    """Parquet files of the table, skipping `_`- and `.`-prefixed folders and files."""
    if not lake.is_dir():
        return []
    files = []
    for path in sorted(lake.rglob("*.parquet")):
        parts = path.relative_to(lake).parts
        if any(part.startswith(("_", ".")) for part in parts):
            continue
        files.append(path)
    return files


def default_table_name(workdir: Path) -> str:
    """The table name recorded by the last run in this work folder, `events` otherwise."""
    info = workdir / RUN_INFO_FILE
    if info.is_file():
        try:
            name = json.loads(info.read_text(encoding="utf-8")).get("table_name")
        except ValueError:
            name = None
        if isinstance(name, str) and _IDENTIFIER.match(name):
            return name
    return "events"


def connect(lake: Path, table: str = "events") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake as view `table` (and `quarantine` when one exists)."""
    if not _IDENTIFIER.match(table):
        raise PipelineError.named(
            "InvalidTableName",
            f"'{table}' is not a valid table name.",
            "Use letters, digits and underscores, starting with a letter.",
            exit_code=2,
        )
    files = lake_files(lake)
    if not files:
        raise PipelineError.named(
            "LakeEmpty",
            f"No Parquet files were found under {lake}.",
            "Run `pipeline demo` (or `pipeline run --input DIR`) first, or point --lake at a lake folder.",
            exit_code=2,
        )
    con = duckdb.connect()
    file_list = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
    con.execute(
        f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{file_list}], "  # noqa: S608 - paths quoted
        "hive_partitioning = true, union_by_name = true)"
    )
    quarantine = lake.parent / "quarantine"
    bad_files = sorted(quarantine.rglob("*")) if quarantine.is_dir() else []
    bad_files = [
        p
        for p in bad_files
        if p.is_file()
        and not p.name.startswith((".", "_"))
        and p.name.lower().removesuffix(".gz").endswith((".ndjson", ".jsonl", ".json"))
    ]
    if bad_files and table != "quarantine":
        bad_list = ", ".join("'" + str(path).replace("'", "''") + "'" for path in bad_files)
        con.execute(
            f"CREATE VIEW quarantine AS SELECT * FROM read_json_auto([{bad_list}], "  # noqa: S608
            "format = 'newline_delimited', hive_partitioning = true, union_by_name = true)"
        )
    return con


def run_query(sql: str, lake: Path, table: str = "events") -> QueryResult:
    con = connect(lake, table)
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise PipelineError.named(
            "QueryFailed",
            f"DuckDB rejected the query: {exc}".rstrip(),
            f"Check the SQL; the table is `{table}` (try `DESCRIBE {table}`).",
            exit_code=2,
        ) from exc
    columns = [d[0] for d in cursor.description] if cursor.description else []
    rows = cursor.fetchall() if cursor.description else []
    con.close()
    return QueryResult(columns=columns, rows=rows)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def to_csv(result: QueryResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([json.dumps(_plain(v)) if isinstance(v, dict | list) else v for v in row])
    return buffer.getvalue()


def to_json(result: QueryResult) -> str:
    return json.dumps(
        [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows], indent=2
    )
