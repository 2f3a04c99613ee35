"""`pipeline schema show|diff|evolve`: the table's schema contract, what a sample of files would change, and the
explicit changes an operator makes that the job never makes on its own.

- **show**: the contract (the Iceberg table's data columns; for the Parquet format the Glue table's columns or
  `<output>/_schema/contract.json`), where it was read, and for Iceberg the schema id and the last snapshot.
- **diff FILE...**: the sample parsed and typed by the job's own code (`parse.parse_block`,
  `schema.observe_table`, `schema.resolve_schema`), then the contract rule (`contract.evolve`): the columns a
  batch of these files would add, the promotions it would make, and the fields whose values would be converted
  or quarantined because their type differs from the table's.
- **evolve**: `--add NAME:TYPE`, `--promote NAME:TYPE` (Iceberg's widenings only), `--rename OLD:NEW` (Iceberg
  only: files keep their column ids, so old data reads under the new name). Without `--apply` it only prints the
  change. A type change that is no Iceberg promotion (long -> string) is refused with the way to do it instead:
  rename the old column, and the next batch adds the new one with its own type.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from glue_jobs.ndjson_to_parquet.args import JobArgs, parse_job_args
from glue_jobs.ndjson_to_parquet.constants import LINE
from glue_jobs.ndjson_to_parquet.contract import diff, evolve, is_promotion
from glue_jobs.ndjson_to_parquet.errors import JobError
from glue_jobs.ndjson_to_parquet.iceberg import LOCAL_CATALOG_DIR, IcebergTarget
from glue_jobs.ndjson_to_parquet.parquet_table import ParquetTarget
from glue_jobs.ndjson_to_parquet.parse import parse_block
from glue_jobs.ndjson_to_parquet.schema import observe_table, resolve_schema, schema_from_doc
from glue_jobs.ndjson_to_parquet.storage import Storage
from glue_jobs.ndjson_to_parquet.tables import TableTarget
from pipeline.contracts.manifest import split_s3_url
from pipeline.ops.context import OpsContext
from pipeline.ops.errors import OpsError
from pipeline.ops.lake_table import table_format
from pipeline.ops.maintain import aws_environment

if TYPE_CHECKING:
    from pyiceberg.table import Table

SAMPLE_BYTES = 16 * 1024 * 1024  # read at most this much of each sample file (whole lines)


class SchemaSampleInvalid(OpsError):
    error_name = "SchemaSampleInvalid"


class SchemaChangeRefused(OpsError):
    error_name = "SchemaChangeRefused"


@dataclass
class Sample:
    schema: pa.Schema
    files: int
    records: int
    bad_lines: int


@dataclass
class ContractView:
    source: str
    columns: list[dict[str, str]]
    table_format: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "table_format": self.table_format,
            "columns": self.columns,
            **self.details,
        }


def columns_of(schema: pa.Schema | None) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in (schema or [])]


# ------------------------------------------------------------------------------------------ the sample


def _read_sample(location: str, s3: Any) -> bytes:
    if location.startswith("s3://"):
        bucket, key = split_s3_url(location)
        if key.endswith(".gz"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            with gzip.GzipFile(fileobj=body) as stream:
                data = stream.read(SAMPLE_BYTES)
        else:
            data = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    else:
        path = Path(location)
        if not path.is_file():
            raise SchemaSampleInvalid(f"The sample file {location} does not exist.")
        opener: Any = gzip.open if path.name.endswith(".gz") else Path.open
        with opener(path, "rb") as stream:
            data = stream.read(SAMPLE_BYTES)
    if len(data) >= SAMPLE_BYTES and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # whole lines only
    return data


def sample_schema(locations: list[str], s3: Any = None) -> Sample:
    """The batch schema the job would resolve for these files (their first SAMPLE_BYTES each)."""
    if not locations:
        raise SchemaSampleInvalid("Give at least one sample file (a local path or an s3:// URL).")
    observations = []
    top_level: list[str] = []
    records = bad = 0
    for location in locations:
        try:
            data = _read_sample(location, s3)
        except (OSError, EOFError) as exc:
            raise SchemaSampleInvalid(f"Cannot read the sample file {location}: {exc}.") from exc
        result = parse_block(location, 0, data.removeprefix(b"\xef\xbb\xbf"))
        records += result.records
        bad += len(result.bad)
        for table in result.tables:
            observations.extend(observe_table(table))
            top_level.extend(c for c in table.column_names if c != LINE)
    resolution = resolve_schema(observations, list(dict.fromkeys(top_level)), None)
    return Sample(resolution.schema, len(locations), records, bad)


# ------------------------------------------------------------------------------------------ where the contract is


def _job_args(output: str, fmt: str, database: str | None, table: str | None) -> JobArgs:
    argv = ["--JOB_NAME", "pipeline-schema", "--MANIFEST_PATH", "-", "--OUTPUT_PATH", output]
    argv += ["--COMPRESSION_TYPE", "zstd", "--TABLE_FORMAT", fmt]
    if database:
        argv += ["--CATALOG_DATABASE", database]
    if table:
        argv += ["--CATALOG_TABLE", table]
    return parse_job_args(argv)


def stack_target(ctx: OpsContext) -> TableTarget:
    """The stack's table as the job sees it (Iceberg in the Glue catalog, or Parquet with the Glue table's
    columns as its contract)."""
    ctx.stack.require("glue_database", "output_path")
    args = _job_args(
        ctx.require_output_path().rstrip("/"),
        table_format(ctx),
        ctx.stack.glue_database,
        ctx.stack.glue_table,
    )
    return (
        IcebergTarget(args, Storage.from_env()) if args.iceberg else ParquetTarget(args, Storage.from_env())
    )


def local_target(lake: Path) -> TableTarget:
    """A local job output folder: an Iceberg table of the local catalog (`_catalog/`), else a Parquet table
    with `_schema/contract.json`."""
    if not lake.is_dir():
        raise SchemaSampleInvalid(f"The folder {lake} does not exist.")
    fmt = "iceberg" if (lake / LOCAL_CATALOG_DIR / "iceberg.db").is_file() else "parquet"
    args = _job_args(str(lake.resolve()), fmt, None, None)
    return IcebergTarget(args, Storage()) if args.iceberg else ParquetTarget(args, Storage())


def _job_call(ctx: OpsContext | None, call: Any) -> Any:
    try:
        if ctx is None:
            return call()
        with aws_environment(ctx):
            return call()
    except JobError as exc:
        raise OpsError.named(exc.error_name, exc.message) from exc


def show(target: TableTarget, ctx: OpsContext | None = None) -> ContractView:
    def read() -> ContractView:
        contract = target.contract()
        details: dict[str, Any] = {"exists": contract.schema is not None}
        if isinstance(target, IcebergTarget) and target._table is not None:
            table = target._table
            current = table.current_snapshot()
            details.update(
                schema_id=table.schema().schema_id,
                snapshot_id=current.snapshot_id if current is not None else None,
                snapshots=len(table.metadata.snapshots),
                metadata_location=table.metadata_location,
            )
        return ContractView(contract.source, columns_of(contract.schema), target.table_format, details)

    return _job_call(ctx, read)


def schema_diff(target: TableTarget, sample: Sample, ctx: OpsContext | None = None) -> dict[str, Any]:
    """What a batch like the sample would do to the table: columns added, promotions, and the fields whose values
    the job converts to the table's type where lossless and quarantines otherwise (the job's own rule)."""
    contract = _job_call(ctx, target.contract)
    evolution = evolve(contract.schema, sample.schema, promotions=target.promotes_types)
    return {
        "source": contract.source,
        "table_format": target.table_format,
        "creates_table": contract.schema is None,
        "sample": {"files": sample.files, "records": sample.records, "bad_lines": sample.bad_lines},
        "changes": diff(contract.schema, sample.schema, promotions=target.promotes_types),
        "columns_after": columns_of(evolution.schema),
    }


# ------------------------------------------------------------------------------------------ evolve (Iceberg)


def parse_type(text: str) -> pa.DataType:
    """A column type as the contract file writes it: string, long, integer, double, float, boolean, timestamp,
    date, decimal(p,s)."""
    try:
        doc = {"type": "struct", "fields": [{"name": "x", "type": text.strip()}]}
        return schema_from_doc(doc).field("x").type
    except (ValueError, KeyError, TypeError) as exc:
        raise SchemaChangeRefused(f"Unknown type {text!r}: {exc}.") from exc


def _pair(text: str, what: str) -> tuple[str, str]:
    if ":" not in text:
        raise SchemaChangeRefused(f"{what} takes NAME:VALUE, got {text!r}.")
    name, value = text.split(":", 1)
    if not name.strip() or not value.strip():
        raise SchemaChangeRefused(f"{what} takes NAME:VALUE, got {text!r}.")
    return name.strip(), value.strip()


@dataclass
class SchemaChange:
    add: list[tuple[str, pa.DataType]] = field(default_factory=list)
    promote: list[tuple[str, pa.DataType]] = field(default_factory=list)
    rename: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, add: list[str], promote: list[str], rename: list[str]) -> SchemaChange:
        change = cls(
            add=[(n, parse_type(t)) for n, t in (_pair(a, "--add") for a in add)],
            promote=[(n, parse_type(t)) for n, t in (_pair(p, "--promote") for p in promote)],
            rename=[_pair(r, "--rename") for r in rename],
        )
        if not (change.add or change.promote or change.rename):
            raise SchemaChangeRefused("Nothing to change: give --add, --promote or --rename.")
        return change

    def lines(self) -> list[str]:
        return (
            [f"add column {n} {t}" for n, t in self.add]
            + [f"promote column {n} to {t}" for n, t in self.promote]
            + [f"rename column {a} to {b}" for a, b in self.rename]
        )


def check_change(contract: pa.Schema, change: SchemaChange) -> None:
    """Refuse what Iceberg (and readers of old files) cannot do, naming the way to do it instead."""
    names = {f.name.lower(): f for f in contract}
    for name, data_type in change.add:
        if name.lower() in names:
            raise SchemaChangeRefused(f"Column {name} exists already ({names[name.lower()].type}).")
        if data_type == pa.null():
            raise SchemaChangeRefused(f"Column {name} needs a type.")
    for name, data_type in change.promote:
        have = names.get(name.lower())
        if have is None:
            raise SchemaChangeRefused(f"There is no column {name} to promote.")
        if not is_promotion(have.type, data_type):
            raise SchemaChangeRefused(
                f"{have.name} {have.type} -> {data_type} is not an Iceberg promotion (int -> long, float -> "
                "double, decimal(P,S) -> decimal(P',S) with P' > P): files written with the old type could not be "
                f"read as the new one. Rename the column instead (--rename {have.name}:{have.name}_old), and the "
                "next batch adds it again with its own type."
            )
    for old, new in change.rename:
        if old.lower() not in names:
            raise SchemaChangeRefused(f"There is no column {old} to rename.")
        if new.lower() in names and new.lower() != old.lower():
            raise SchemaChangeRefused(f"Column {new} exists already.")


def apply_change(
    target: TableTarget, change: SchemaChange, ctx: OpsContext | None = None, apply: bool = True
) -> dict[str, Any]:
    """Check the change against the contract, then make it: one Iceberg schema commit, or (Parquet) the new
    contract written where the job reads it. Parquet takes added columns only: its files keep their types and
    names, so a promotion or a rename would make the older files unreadable as the table."""

    def run() -> dict[str, Any]:
        contract = target.contract()
        if contract.schema is None:
            raise SchemaChangeRefused(
                f"The table {contract.source} has no contract yet: the first batch creates it (or seed it with "
                "--SCHEMA_PATH)."
            )
        check_change(contract.schema, change)
        if isinstance(target, ParquetTarget) and (change.promote or change.rename):
            raise SchemaChangeRefused(
                "A Parquet table takes added columns only (its older files keep their types and names); "
                'switch to table_format = "iceberg" for promotions and renames.'
            )
        if not apply:
            return {"source": contract.source, "would_apply": change.lines(), "applied": False}
        if isinstance(target, IcebergTarget):
            assert target._table is not None
            schema_id = apply_iceberg(target._table, change)
            return {"source": contract.source, "schema_id": schema_id, "applied": change.lines()}
        assert isinstance(target, ParquetTarget)
        target.write_contract(pa.schema([*contract.schema, *(pa.field(n, t) for n, t in change.add)]))
        return {"source": contract.source, "applied": change.lines()}

    return _job_call(ctx, run)


def apply_iceberg(table: Table, change: SchemaChange) -> int:
    """One schema commit on the Iceberg table; returns the new schema id."""
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids

    with table.update_schema() as update:
        for name, data_type in change.add:
            iceberg_type = _pyarrow_to_schema_without_ids(pa.schema([(name, data_type)])).fields[0].field_type
            update.add_column(name, iceberg_type)
        for name, data_type in change.promote:
            iceberg_type = _pyarrow_to_schema_without_ids(pa.schema([(name, data_type)])).fields[0].field_type
            update.update_column(name, field_type=iceberg_type)
        for old, new in change.rename:
            update.rename_column(old, new)
    table.refresh()
    return int(table.schema().schema_id)
