"""The Iceberg table through pyiceberg: the catalog, the schema mapping, and commits that happen exactly once.

One table per stack, located at OUTPUT_PATH: the contract's columns, then `_source_file`, `_manifest_id`,
`_ingested_at` and `dt` (identity partition). The Spark tasks write Parquet files straight under
`<location>/data/dt=D/`; nothing is visible until the driver commits them here, in one Iceberg commit per manifest
whose snapshot summary carries `manifest-id` and `job-run-id`:

- a manifest whose id is in a snapshot summary of the table's history is committed: a re-run commits nothing;
- a commit that fails on a concurrent update is retried by pyiceberg on a refreshed table (appends never conflict);
  one whose outcome is unknown (an exception other than CommitFailedException: a lost response, a timeout) is
  resolved by reading the table again and looking for the manifest id, never by committing twice;
- a schema change (columns added, Iceberg promotions) goes into the same commit as the files; a concurrent schema
  change fails it, and the run then re-checks that its files still fit the table's new schema before trying again.

The catalog is the Glue Data Catalog (`--CATALOG_DATABASE`; on the embedded AWS the endpoint comes from
AWS_ENDPOINT_URL_GLUE / AWS_ENDPOINT_URL), or, for a local run, a SQLite catalog in `<OUTPUT_PATH>/_catalog/`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .args import JobArgs
from .constants import META_COLUMNS, PARTITION_COLUMN, TS_TYPE
from .contract import Evolution, is_promotion
from .errors import JobError
from .manifest import Manifest
from .parquet import StagedFile
from .replays import active_replay
from .storage import Storage, join, normalise
from .tables import Contract, TableTarget

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

logger = logging.getLogger(__name__)

SUMMARY_MANIFEST = "manifest-id"
SUMMARY_RUN = "job-run-id"
SUMMARY_OPERATION = "pipeline-operation"  # "replay" | "compact" (appends carry none)
SUMMARY_REPLAY = "replay-id"
LOCAL_NAMESPACE = "local"
LOCAL_CATALOG_DIR = "_catalog"
DATA_DIR = "data"
MAIN_BRANCH = "main"
COMMIT_ATTEMPTS = 6  # outer attempts (each is pyiceberg's own retried commit); then IcebergCommitFailed
RESERVED_COLUMNS = (*META_COLUMNS, PARTITION_COLUMN)
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    "commit.retry.num-retries": "8",
    "commit.retry.min-wait-ms": "50",
    "commit.retry.max-wait-ms": "5000",
    # replace_files (compaction, replay) removes exactly the files it names, so an append committed meanwhile is
    # kept, even in the same partition: snapshot isolation (pyiceberg's default, serializable, fails such a
    # commit); a named file that is gone meanwhile still fails it.
    "write.delete.isolation-level": "snapshot",
    "write.update.isolation-level": "snapshot",
    # Appends merge small manifests (pyiceberg's merge append): the manifest list a commit reads and rewrites stays
    # near min-count-to-merge entries instead of one per commit since the last compaction.
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "50",
    # Older metadata files beyond these are deleted at commit (the metadata log a reader may travel to).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
}


# ------------------------------------------------------------------------------------------ the catalog


@dataclass(frozen=True)
class TableRef:
    """Which table: a Glue database (None: the local SQLite catalog), its name, its location."""

    database: str | None
    name: str
    location: str

    @classmethod
    def of(cls, args: JobArgs) -> TableRef:
        return cls(args.catalog_database, args.catalog_table, normalise(args.output_path))

    @property
    def identifier(self) -> tuple[str, str]:
        return (self.database or LOCAL_NAMESPACE, self.name)

    @property
    def shown(self) -> str:
        where = f"glue:{self.database}" if self.database else f"sqlite:{self.location}/{LOCAL_CATALOG_DIR}"
        return f"iceberg {where}.{self.name}"


@dataclass(frozen=True)
class CatalogAccess:
    """How to reach the catalog and the table's files: endpoints (None: AWS), region, credentials (None: the
    standard chain). The job takes them from its environment; an operator command from its AWS session."""

    glue_endpoint: str | None = None
    s3_endpoint: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_env(cls) -> CatalogAccess:
        env = os.environ
        return cls(
            glue_endpoint=env.get("AWS_ENDPOINT_URL_GLUE") or env.get("AWS_ENDPOINT_URL"),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            access_key=env.get("AWS_ACCESS_KEY_ID"),
            secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
            session_token=env.get("AWS_SESSION_TOKEN"),
        )

    def file_io_properties(self) -> dict[str, str]:
        """pyiceberg FileIO settings for S3 (pyarrow's filesystem)."""
        props: dict[str, str] = {"py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO"}
        for key, value in (
            ("s3.endpoint", self.s3_endpoint),
            ("s3.region", self.region),
            ("s3.access-key-id", self.access_key),
            ("s3.secret-access-key", self.secret_key),
            ("s3.session-token", self.session_token),
        ):
            if value:
                props[key] = value
        return props

    def glue_properties(self) -> dict[str, str]:
        """pyiceberg Glue catalog settings: the Glue client's, then the FileIO's."""
        props = self.file_io_properties()
        for key, value in (
            ("glue.endpoint", self.glue_endpoint),
            ("glue.region", self.region),
            ("glue.access-key-id", self.access_key),
            ("glue.secret-access-key", self.secret_key),
            ("glue.session-token", self.session_token),
        ):
            if value:
                props[key] = value
        return props


def open_catalog(ref: TableRef, access: CatalogAccess | None = None) -> Catalog:
    """The pyiceberg catalog of `ref`: Glue (endpoint, region, credentials from `access`, by default the
    environment's) or the local SQLite catalog."""
    access = access if access is not None else CatalogAccess.from_env()
    try:
        if ref.database is not None:
            from pyiceberg.catalog.glue import GlueCatalog

            props: dict[str, Any] = access.glue_properties()
            return GlueCatalog("glue", **props)
        if ref.location.startswith("s3://"):
            raise JobError(
                "CatalogRequired",
                f"--TABLE_FORMAT iceberg with an s3:// --OUTPUT_PATH ({ref.location}) needs --CATALOG_DATABASE "
                "(the Glue Data Catalog database that holds the table); a local catalog needs a local OUTPUT_PATH",
            )
        from pyiceberg.catalog.sql import SqlCatalog

        folder = join(ref.location, LOCAL_CATALOG_DIR)
        Path(folder).mkdir(parents=True, exist_ok=True)
        catalog = SqlCatalog(
            LOCAL_NAMESPACE, uri=f"sqlite:///{folder}/iceberg.db", warehouse=f"file://{ref.location}"
        )
        try:
            catalog.create_namespace(LOCAL_NAMESPACE)
        except Exception as exc:  # already there
            if type(exc).__name__ != "NamespaceAlreadyExistsError":
                raise
        return catalog
    except ImportError as exc:  # pragma: no cover - a Glue job without the module
        raise JobError(
            "IcebergUnavailable",
            f"--TABLE_FORMAT iceberg needs pyiceberg ({exc}); on Glue add it to --additional-python-modules",
        ) from exc


def load_table(catalog: Catalog, ref: TableRef) -> Table | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(ref.identifier)
    except NoSuchTableError:
        return None


# ------------------------------------------------------------------------------------------ schema mapping


def _to_arrow_type(iceberg_type: Any, path: str) -> pa.DataType:
    from pyiceberg import types as it

    simple: list[tuple[type, pa.DataType]] = [
        (it.BooleanType, pa.bool_()),
        (it.IntegerType, pa.int32()),
        (it.LongType, pa.int64()),
        (it.FloatType, pa.float32()),
        (it.DoubleType, pa.float64()),
        (it.StringType, pa.string()),
        (it.DateType, pa.date32()),
        (it.TimestamptzType, TS_TYPE),
        (it.TimestampType, pa.timestamp("us")),
    ]
    for kind, arrow in simple:
        if isinstance(iceberg_type, kind):
            return arrow
    if isinstance(iceberg_type, it.DecimalType):
        return pa.decimal128(iceberg_type.precision, iceberg_type.scale)
    if isinstance(iceberg_type, it.StructType):
        return pa.struct(
            [pa.field(f.name, _to_arrow_type(f.field_type, f"{path}.{f.name}")) for f in iceberg_type.fields]
        )
    if isinstance(iceberg_type, it.ListType):
        return pa.list_(_to_arrow_type(iceberg_type.element_type, f"{path}[]"))
    raise JobError(
        "UnsupportedTableSchema",
        f"the Iceberg table's column '{path}' has type {iceberg_type}, which this job does not write "
        "(boolean, int, long, float, double, decimal, string, date, timestamptz, struct, list)",
    )


def arrow_schema(schema: Schema) -> pa.Schema:
    """The table schema as the job's Arrow types (string, not large_string; timestamptz as us UTC)."""
    return pa.schema([pa.field(f.name, _to_arrow_type(f.field_type, f.name)) for f in schema.fields])


def data_schema(table: Table) -> pa.Schema:
    """The contract: the table's columns without the metadata and partition columns."""
    full = arrow_schema(table.schema())
    return pa.schema([f for f in full if f.name not in RESERVED_COLUMNS])


def file_schema(data: pa.Schema) -> pa.Schema:
    """What the run's files hold: the data columns, the metadata columns, then `dt`."""
    return pa.schema(
        [
            *data,
            pa.field("_source_file", pa.string()),
            pa.field("_manifest_id", pa.string()),
            pa.field("_ingested_at", TS_TYPE),
            pa.field(PARTITION_COLUMN, pa.string()),
        ]
    )


def _iceberg_schema(schema: pa.Schema) -> Schema:
    from pyiceberg.io.pyarrow import _pyarrow_to_schema_without_ids
    from pyiceberg.schema import assign_fresh_schema_ids

    return assign_fresh_schema_ids(_pyarrow_to_schema_without_ids(schema))


def create_table(catalog: Catalog, ref: TableRef, data: pa.Schema) -> Table:
    """Create the table (partitioned by identity(dt)); if another run created it meanwhile, load that one."""
    from pyiceberg.exceptions import TableAlreadyExistsError
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform

    schema = _iceberg_schema(file_schema(data))
    spec = PartitionSpec(
        PartitionField(
            source_id=schema.find_field(PARTITION_COLUMN).field_id,
            field_id=1000,
            transform=IdentityTransform(),
            name=PARTITION_COLUMN,
        )
    )
    properties = {**TABLE_PROPERTIES, "schema.name-mapping.default": schema.name_mapping.model_dump_json()}
    try:
        return catalog.create_table(
            ref.identifier, schema=schema, location=ref.location, partition_spec=spec, properties=properties
        )
    except TableAlreadyExistsError:
        return catalog.load_table(ref.identifier)


# ------------------------------------------------------------------------------------------ snapshots


def snapshots_with(table: Table, key: str, value: str) -> list[Snapshot]:
    """The snapshots of the table's history whose summary has key = value (oldest first)."""
    found = []
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.additional_properties.get(key) == value:
            found.append(snapshot)
    return found


def snapshot_fields(table: Table, snapshot: Snapshot, commit: str, attempts: int = 0) -> dict[str, Any]:
    summary = snapshot.summary.additional_properties if snapshot.summary is not None else {}
    return {
        "table_format": "iceberg",
        "table": None,  # filled by the target
        "snapshot_id": snapshot.snapshot_id,
        "sequence_number": snapshot.sequence_number,
        "committed_at": snapshot.timestamp_ms,
        "commit": commit,
        "commit_attempts": attempts,
        "added_files": int(summary.get("added-data-files", 0)),
        "added_rows": int(summary.get("added-records", 0)),
        "metadata_location": table.metadata_location,
    }


def data_files_of(table: Table, date_prefix: str | None) -> list[DataFile]:
    """The live data files of the current snapshot (of one date, or all)."""
    if table.current_snapshot() is None:
        return []
    row_filter = f"{PARTITION_COLUMN} == '{date_prefix}'" if date_prefix else "True"
    return [task.file for task in table.scan(row_filter=row_filter).plan_files()]


def parquet_data_files(table: Table, paths: Iterable[str]) -> list[DataFile]:
    """DataFile entries (statistics, partition) of Parquet files written for this table."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    return [parquet_file_to_data_file(table.io, table.metadata, path) for path in paths]


def replace_files(
    table: Table, delete: list[DataFile], add_paths: list[str], properties: dict[str, str]
) -> Snapshot:
    """One atomic commit that removes exactly `delete` and adds `add_paths` (compaction, a date's replay).
    Concurrent appends are kept (pyiceberg validates that the deleted files still exist at commit time)."""
    transaction = table.transaction()
    with transaction.update_snapshot(snapshot_properties=properties).overwrite() as overwrite:
        for data_file in delete:
            overwrite.delete_data_file(data_file)
        for data_file in parquet_data_files(table, add_paths):
            overwrite.append_data_file(data_file)
    committed = transaction.commit_transaction()
    snapshot = committed.current_snapshot()
    assert snapshot is not None
    return snapshot


# ------------------------------------------------------------------------------------------ the target


def _compare(have: pa.DataType, want: pa.DataType, path: str) -> tuple[str | None, bool]:
    """(why files of type `want` cannot go into a column of type `have`, or None; whether the table's schema
    needs an update first: fields to add, a promotion)."""
    if have == want:
        return None, False
    if pa.types.is_struct(have) and pa.types.is_struct(want):
        have_fields = {f.name: f.type for f in have}
        update = False
        for child in want:
            if child.name not in have_fields:
                update = True
                continue
            why, child_update = _compare(have_fields[child.name], child.type, f"{path}.{child.name}")
            if why:
                return why, False
            update = update or child_update
        return None, update
    if pa.types.is_list(have) and pa.types.is_list(want):
        return _compare(have.value_type, want.value_type, f"{path}[]")
    if is_promotion(have, want):
        return None, True
    if is_promotion(
        want, have
    ):  # the table was promoted meanwhile: the files' narrower type reads as the wider
        return None, False
    return f"column '{path}' is {have} in the table now, the run wrote {want}", False


def compare_schemas(table_schema: pa.Schema, files_schema: pa.Schema) -> tuple[str | None, bool]:
    """Whether files written with `files_schema` fit the table (reason if not), and whether the table's schema
    must be updated in the commit (new columns or fields, promotions)."""
    have = {f.name: f.type for f in table_schema}
    update = False
    for column in files_schema:
        if column.name not in have:
            update = True
            continue
        why, column_update = _compare(have[column.name], column.type, column.name)
        if why:
            return why, False
        update = update or column_update
    return None, update


FIELD_ID_KEY = b"PARQUET:field_id"


def with_field_ids(arrow: pa.Schema, schema: Schema) -> pa.Schema:
    """`arrow` (the job's types and column order) with the field ids of the Iceberg schema, matched by name at
    every level: files written with it are read by id, so a renamed column keeps its data and a new column of an
    old name never reads an older file's values."""

    def typed(data_type: pa.DataType, iceberg_type: Any, path: str) -> pa.DataType:
        if pa.types.is_struct(data_type):
            children = {f.name: f for f in iceberg_type.fields}
            return pa.struct([field(child, children.get(child.name), path) for child in data_type])
        if pa.types.is_list(data_type):
            item = data_type.value_field
            element = typed(item.type, iceberg_type.element_type, f"{path}[]")
            metadata = {FIELD_ID_KEY: str(iceberg_type.element_id).encode()}
            return pa.list_(pa.field(item.name, element, nullable=True, metadata=metadata))
        return data_type

    def field(column: pa.Field, nested: Any, path: str) -> pa.Field:
        shown = f"{path}.{column.name}" if path else column.name
        if nested is None:
            raise JobError("TableSchemaChanged", f"the table has no field '{shown}' to write")
        metadata = {FIELD_ID_KEY: str(nested.field_id).encode()}
        return pa.field(
            column.name, typed(column.type, nested.field_type, shown), nullable=True, metadata=metadata
        )

    top = {f.name: f for f in schema.fields}
    return pa.schema([field(column, top.get(column.name), "") for column in arrow])


def field_ids(arrow: pa.Schema) -> dict[str, int]:
    """path -> field id of a schema made by `with_field_ids` (for comparing what was written with the table)."""
    out: dict[str, int] = {}

    def walk(fields: Any, prefix: str) -> None:
        for column in fields:
            path = f"{prefix}.{column.name}" if prefix else column.name
            if column.metadata and FIELD_ID_KEY in column.metadata:
                out[path] = int(column.metadata[FIELD_ID_KEY])
            if pa.types.is_struct(column.type):
                walk(column.type, path)
            elif pa.types.is_list(column.type):
                walk([column.type.value_field], path)

    walk(arrow, "")
    return out


def evolved_schema(table: Table, wanted: pa.Schema) -> Schema:
    """The table's schema after the commit adds `wanted`'s new columns and promotions (computed in a transaction
    that is never committed: pyiceberg assigns the same ids when the commit applies the same change to the same
    schema)."""
    _, update = compare_schemas(arrow_schema(table.schema()), wanted)
    if not update:
        return table.schema()
    transaction = table.transaction()
    with transaction.update_schema() as change:
        change.union_by_name(wanted)
    return transaction.table_metadata.schema()


class IcebergTarget(TableTarget):
    """`--TABLE_FORMAT iceberg`: the run's files, committed in one snapshot per manifest."""

    table_format = "iceberg"

    def __init__(self, args: JobArgs, storage: Storage) -> None:
        self.args = args
        self.storage = storage
        self.ref = TableRef.of(args)
        self._catalog: Catalog | None = None
        self._table: Table | None = None
        self._written: pa.Schema | None = None  # the files' schema with ids (file_schema)
        # replay (replays.py): the branch a replayed date's manifests commit to; None = main
        self.branch: str | None = None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = open_catalog(self.ref)
        return self._catalog

    def _load(self) -> Table | None:
        self._table = load_table(self.catalog, self.ref)
        return self._table

    def contract(self) -> Contract:
        table = self._table or self._load()
        return Contract(data_schema(table) if table is not None else None, self.ref.shown)

    def already_committed(self, manifest_id: str) -> dict[str, Any] | None:
        table = self._load()
        if table is None:
            return None
        found = snapshots_with(table, SUMMARY_MANIFEST, manifest_id)
        return self._fields(table, found[0], "already_committed") if found else None

    def write_dir(self, staging: str, manifest: Manifest) -> str:
        table = self._table
        location = table.location() if table is not None else self.ref.location
        return join(location, DATA_DIR, f"{PARTITION_COLUMN}={manifest.date_prefix}")

    def file_prefix(self, manifest_id: str, run_id: str) -> str:
        return f"{manifest_id}.{run_id}"

    def partition_value(self, manifest: Manifest) -> str | None:
        return manifest.date_prefix

    def file_schema(self, evolution: Evolution) -> pa.Schema:
        """The files' schema with the field ids the table will have after this run's commit."""
        wanted = file_schema(evolution.schema)
        table = self._table or self._load()
        schema = _iceberg_schema(wanted) if table is None else evolved_schema(table, wanted)
        self._written = with_field_ids(wanted, schema)
        return self._written

    def _fields(self, table: Table, snapshot: Snapshot, commit: str, attempts: int = 0) -> dict[str, Any]:
        fields = snapshot_fields(table, snapshot, commit, attempts)
        fields["table"] = self.ref.shown
        return fields

    def publish(
        self, files: list[StagedFile], evolution: Evolution, manifest: Manifest, run_id: str
    ) -> dict[str, Any]:
        """Commit the run's files (and the evolved schema) in one snapshot, exactly once."""
        from pyiceberg.exceptions import CommitFailedException

        properties = {SUMMARY_MANIFEST: manifest.manifest_id, SUMMARY_RUN: self.args.job_run_id or run_id}
        paths = [f.staged for f in files]
        wanted = file_schema(evolution.schema)
        # replay (replays.py): a date being replayed commits to the replay's branch, main keeps the old data
        marker = active_replay(self.storage, self.args.output_path, manifest.date_prefix)
        self.branch = marker.branch if marker is not None else None
        last_error: Exception | None = None
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self._load() or create_table(self.catalog, self.ref, evolution.schema)
            if found := snapshots_with(table, SUMMARY_MANIFEST, manifest.manifest_id):
                if attempt == 1:  # committed by an earlier run meanwhile: this run's files are not needed
                    self.discard(files)
                return self._fields(
                    table, found[0], "already_committed" if attempt == 1 else "committed", attempt
                )
            if self.branch is not None and self.branch not in table.metadata.refs:
                # replay: committing to a missing branch would start an orphan one (pyiceberg creates it)
                raise JobError(
                    "ReplayBranchMissing",
                    f"date {manifest.date_prefix} is being replayed into branch {self.branch}, which the table "
                    f"{self.ref.shown} does not have; run `pipeline replay --date {manifest.date_prefix}` again, "
                    "then the job (its files were not committed)",
                )
            misfit, _ = compare_schemas(arrow_schema(table.schema()), wanted)
            if misfit:
                raise JobError(
                    "TableSchemaChanged",
                    f"the table {self.ref.shown} changed while manifest {manifest.manifest_id} was converted: "
                    f"{misfit}; run the job again (its files were not committed)",
                )
            try:
                snapshot = self._commit(table, wanted, paths, properties)
                return {
                    **self._fields(self._table or table, snapshot, "committed", attempt),
                    "output_files": paths,  # the data files this commit added
                }
            except CommitFailedException as exc:  # pyiceberg's own retries exhausted: did not land
                last_error = exc
                logger.warning("commit of %s failed (%s), attempt %d", manifest.manifest_id, exc, attempt)
            except JobError:
                raise
            except Exception as exc:  # outcome unknown: look for the manifest id before trying again
                last_error = exc
                logger.warning("commit of %s ended with %r: checking the table", manifest.manifest_id, exc)
            time.sleep(min(0.2 * 2**attempt, 5.0))
        raise JobError(
            "IcebergCommitFailed",
            f"could not commit manifest {manifest.manifest_id} to {self.ref.shown} after {COMMIT_ATTEMPTS} "
            f"attempts: {last_error}; nothing was committed, run the job again",
        )

    def _commit(
        self, table: Table, wanted: pa.Schema, paths: list[str], properties: dict[str, str]
    ) -> Snapshot:
        transaction = table.transaction()
        _, update_schema = compare_schemas(arrow_schema(table.schema()), wanted)
        if update_schema:
            with transaction.update_schema() as update:
                update.union_by_name(wanted)
        if self._written is not None:  # the ids in the files must be the ids this commit gives the columns
            after = field_ids(with_field_ids(wanted, transaction.table_metadata.schema()))
            if after != field_ids(self._written):
                raise JobError(
                    "TableSchemaChanged",
                    f"the table {self.ref.shown} changed while its files were written (column ids differ); run "
                    "the job again (its files were not committed)",
                )
        transaction.add_files(
            paths,
            snapshot_properties=properties,
            check_duplicate_files=False,
            branch=self.branch or MAIN_BRANCH,
        )
        committed = transaction.commit_transaction()
        self._table = committed
        # replay: the branch's head, not main's
        snapshot = committed.snapshot_by_name(self.branch) if self.branch else committed.current_snapshot()
        if snapshot is None or snapshot.summary is None:
            raise JobError("IcebergCommitFailed", "the commit returned a table without a current snapshot")
        if snapshot.summary.additional_properties.get(SUMMARY_MANIFEST) != properties[SUMMARY_MANIFEST]:
            # another writer committed after ours in the same refresh: find ours in the history
            ours = snapshots_with(committed, SUMMARY_MANIFEST, properties[SUMMARY_MANIFEST])
            if not ours:
                raise JobError("IcebergCommitFailed", "the commit's snapshot is not in the table's history")
            snapshot = ours[0]
        return snapshot

    def discard(self, files: list[StagedFile]) -> None:
        for staged in files:
            try:
                self.storage.delete(staged.staged)
            except Exception as exc:  # best effort: maintenance removes orphans older than the safety window
                logger.warning("could not delete uncommitted file %s: %s", staged.staged, exc)
