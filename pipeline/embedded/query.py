"""DuckDB over the local lake: the table an analyst would query in Athena, on one machine.

The lake is the folder the embedded pipeline writes (`<workdir>/lake`), in one of two formats, told apart by what
the folder holds:

- an Iceberg table (a `metadata/` folder of `*.metadata.json`: the Glue runner's mirror of the table in the
  embedded S3): the committed snapshot (or the one `--as-of` names) is read through pyiceberg
  (`iceberg_reads.open_offline`, or `open_catalog_table` while the embedded AWS runs), scanned into Arrow and
  registered as the view; files no snapshot references are never read;
- plain Parquet (`--TABLE_FORMAT parquet`): Hive-style partitions (`dt=YYYY-MM-DD/`), exposed as one view with the
  partition columns typed, files with different schemas unioned by column name. Folders starting with `_` or `.`
  (job reports, quarantine, temporary output) are not part of the table.

Either way the view is named `events` by default. The quarantine (`<workdir>/quarantine`) is the view `quarantine`,
its records' `offset` renamed `line_offset` (OFFSET is reserved in SQL).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline.contracts.errors import PipelineError

if TYPE_CHECKING:
    from pyiceberg.table import Table

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RUN_INFO_FILE = "pipeline-run.json"
# A quarantine record's byte offset of its line: the job writes `offset`; the `quarantine` view (and the Athena
# table of docs/analysts.md) call it `line_offset`, because OFFSET is a reserved word in SQL.
RECORD_OFFSET_FIELD = "offset"
QUARANTINE_OFFSET_COLUMN = "line_offset"


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


def _check_name(table: str) -> None:
    if not _IDENTIFIER.match(table):
        raise PipelineError.named(
            "InvalidTableName",
            f"'{table}' is not a valid table name.",
            "Use letters, digits and underscores, starting with a letter.",
            exit_code=2,
        )


def lake_format(lake: Path) -> str:
    """`iceberg` when the lake folder holds an Iceberg table's metadata, `parquet` otherwise."""
    from pipeline.embedded.iceberg_reads import is_iceberg_lake

    return "iceberg" if is_iceberg_lake(lake) else "parquet"


def connect(
    lake: Path, table: str = "events", *, as_of: str | None = None, catalog: tuple[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake as view `table` (and `quarantine` when one exists).

    `catalog` (database, table) reads the Iceberg table through the Glue catalog instead of the local mirror;
    `as_of` (a snapshot id or an ISO timestamp) picks an earlier snapshot of an Iceberg table.
    """
    _check_name(table)
    if catalog is not None or lake_format(lake) == "iceberg":
        from pipeline.embedded.iceberg_reads import open_catalog_table, open_offline

        iceberg = open_catalog_table(*catalog) if catalog is not None else open_offline(lake)
        con = connect_iceberg(iceberg, table, as_of=as_of)
    else:
        if as_of is not None:
            raise PipelineError.named(
                "AsOfNeedsIceberg",
                f"--as-of needs an Iceberg table, and {lake} holds plain Parquet (no snapshots to travel to).",
                "Drop --as-of, or run the pipeline with the Iceberg table format (the default).",
                exit_code=2,
            )
        con = _connect_parquet(lake, table)
    _add_quarantine(con, lake, table)
    return con


def connect_iceberg(
    iceberg: Table, table: str = "events", *, as_of: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the committed snapshot (or the one `as_of` names) of `iceberg` as view `table`."""
    from pipeline.embedded.iceberg_reads import read_arrow

    _check_name(table)
    rows = read_arrow(iceberg, as_of)
    con = duckdb.connect()
    con.register(f"_{table}_snapshot", rows)
    con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_snapshot")  # noqa: S608 - checked identifier
    return con


def _connect_parquet(lake: Path, table: str) -> duckdb.DuckDBPyConnection:
    files = lake_files(lake)
    if not files and lake.is_dir() and quarantine_files(lake):
        return duckdb.connect()  # a run whose batches all failed: its quarantine alone can be read (why)
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
    return con


def quarantine_files(lake: Path) -> list[Path]:
    """The quarantine's NDJSON files (`<workdir>/quarantine`, beside the lake folder)."""
    quarantine = lake.parent / "quarantine"
    bad_files = sorted(quarantine.rglob("*")) if quarantine.is_dir() else []
    return [
        p
        for p in bad_files
        if p.is_file()
        and not p.name.startswith((".", "_"))
        and p.name.lower().removesuffix(".gz").endswith((".ndjson", ".jsonl", ".json"))
    ]


def _add_quarantine(con: duckdb.DuckDBPyConnection, lake: Path, table: str) -> None:
    bad_files = quarantine_files(lake)
    if bad_files and table != "quarantine":
        bad_list = ", ".join("'" + str(path).replace("'", "''") + "'" for path in bad_files)
        con.execute(
            f"CREATE VIEW _quarantine_records AS SELECT * FROM read_json_auto([{bad_list}], "  # noqa: S608
            "format = 'newline_delimited', hive_partitioning = true, union_by_name = true)"
        )
        columns = {row[0] for row in con.execute("DESCRIBE _quarantine_records").fetchall()}
        # The records' `offset` is a reserved word in SQL: the view calls it `line_offset`, so that
        # `SELECT line_offset, reason FROM quarantine` needs no quoting (docs/analysts.md#the-quarantine).
        rename = (
            f' RENAME ("{RECORD_OFFSET_FIELD}" AS {QUARANTINE_OFFSET_COLUMN})'
            if RECORD_OFFSET_FIELD in columns
            else ""
        )
        con.execute(f"CREATE VIEW quarantine AS SELECT *{rename} FROM _quarantine_records")  # noqa: S608


def run_query(
    sql: str,
    lake: Path,
    table: str = "events",
    *,
    as_of: str | None = None,
    catalog: tuple[str, str] | None = None,
) -> QueryResult:
    con = connect(lake, table, as_of=as_of, catalog=catalog)
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


def committed_rows_by_manifest(lake: Path) -> dict[str, int]:
    """Rows per `_manifest_id` in the committed snapshot of the lake's Iceberg table (the mirror)."""
    from collections import Counter

    from pipeline.embedded.iceberg_reads import open_offline

    iceberg = open_offline(lake)
    if iceberg.current_snapshot() is None:
        return {}
    column = iceberg.scan(selected_fields=("_manifest_id",)).to_arrow().column("_manifest_id")
    return {str(k): int(n) for k, n in Counter(column.to_pylist()).items()}


def snapshot_listing(lake: Path, catalog: tuple[str, str] | None = None) -> QueryResult:
    """The table's snapshots, oldest first: id, time, operation, manifest id, rows and files added, current."""
    from pipeline.embedded.iceberg_reads import open_catalog_table, open_offline, snapshots

    if catalog is None and lake_format(lake) != "iceberg":
        raise PipelineError.named(
            "SnapshotsNeedIceberg",
            f"{lake} holds plain Parquet, which has no snapshots.",
            "Run the pipeline with the Iceberg table format (the default) to get snapshots and time travel.",
            exit_code=2,
        )
    iceberg = open_catalog_table(*catalog) if catalog is not None else open_offline(lake)
    columns = [
        "snapshot_id",
        "committed_at",
        "operation",
        "manifest_id",
        "added_rows",
        "added_files",
        "current",
    ]
    rows = [
        (
            s.snapshot_id,
            s.committed_at,
            s.summary.get("pipeline-operation", s.operation),
            s.manifest_id,
            s.added_records,
            s.added_files,
            s.current,
        )
        for s in snapshots(iceberg)
    ]
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
