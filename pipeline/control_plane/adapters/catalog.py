"""Glue Data Catalog registration of the output table, so Athena and Spark find it with no crawler (the Glue
calls; the schema mapping they apply is pure, in ``domain/catalog_schema.py``).

`register_manifest_output(glue, database, table, location, date_prefix, report)`, called after each successful
manifest: creates the table (Parquet SerDe, partition key `dt`) on first use, appends drifted columns, adds the
date's partition (never moving an existing partition's location: `pipeline replay` owns that), and is idempotent
and safe to run concurrently for different manifests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipeline.control_plane.domain.catalog_schema import (
    _DATE,
    CatalogError,
    Column,
    MappedSchema,
    RegistrationResult,
    UnsupportedSchema,
    athena_name,
    map_schema,
    merge_columns,
    partition_location,
    storage_descriptor,
    table_input,
    validate_names,
)

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ boto3 adapter


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _columns_of(descriptor: dict[str, Any]) -> list[Column]:
    return [Column(col["Name"], col["Type"]) for col in descriptor.get("Columns", [])]


def _get_table(glue: Any, database: str, table: str) -> dict[str, Any] | None:
    try:
        return glue.get_table(DatabaseName=database, Name=table)["Table"]
    except Exception as exc:
        if _error_code(exc) == "EntityNotFoundException":
            return None
        raise


def _table_input_from(existing: dict[str, Any], columns: list[Column]) -> dict[str, Any]:
    """TableInput for UpdateTable: the existing definition (only TableInput's keys) with new columns."""
    allowed = (
        "Name",
        "Description",
        "Owner",
        "Retention",
        "StorageDescriptor",
        "PartitionKeys",
        "TableType",
        "Parameters",
        "ViewOriginalText",
        "ViewExpandedText",
        "TargetTable",
    )
    result = {key: existing[key] for key in allowed if key in existing}
    descriptor = dict(result.get("StorageDescriptor") or {})
    descriptor["Columns"] = [col.as_glue() for col in columns]
    result["StorageDescriptor"] = descriptor
    return result


def _ensure_table(
    glue: Any,
    database: str,
    table: str,
    location: str,
    mapped: MappedSchema,
    compression: str | None,
    result: RegistrationResult,
) -> list[Column]:
    """Create the table or append drifted columns; returns the table's columns afterwards."""
    for _attempt in range(5):
        existing = _get_table(glue, database, table)
        if existing is None:
            try:
                glue.create_table(
                    DatabaseName=database,
                    TableInput=table_input(table, mapped.columns, location, compression),
                )
            except Exception as exc:
                if _error_code(exc) == "AlreadyExistsException":
                    continue  # a concurrent registration created it: merge into theirs
                raise
            result.table_created = True
            result.columns_added = [col.name for col in mapped.columns]
            return list(mapped.columns)
        current = _columns_of(existing.get("StorageDescriptor") or {})
        merged, added, conflicts = merge_columns(current, mapped.columns)
        result.type_conflicts = conflicts
        if not added:
            return current
        kwargs: dict[str, Any] = {"DatabaseName": database, "TableInput": _table_input_from(existing, merged)}
        if existing.get("VersionId"):
            kwargs["VersionId"] = existing[
                "VersionId"
            ]  # optimistic lock: a concurrent update makes us re-merge
        try:
            glue.update_table(**kwargs)
        except Exception as exc:
            if _error_code(exc) == "ConcurrentModificationException":
                continue
            raise
        result.columns_added = added
        logger.info("catalog table %s.%s: added columns %s", database, table, ", ".join(added))
        return merged
    raise CatalogError(
        f"The Glue table {database}.{table} kept changing under concurrent updates; retry later."
    )


def _get_partition(glue_client: Any, database: str, table: str, date_prefix: str) -> dict[str, Any] | None:
    """The date's partition, None when there is none."""
    try:
        existing = glue_client.get_partition(
            DatabaseName=database, TableName=table, PartitionValues=[date_prefix]
        )
    except Exception as exc:
        if _error_code(exc) == "EntityNotFoundException":
            return None
        raise
    return existing["Partition"]


def _ensure_partition(
    glue: Any,
    database: str,
    table: str,
    date_prefix: str,
    columns: list[Column],
    location: str,
    compression: str | None,
    result: RegistrationResult,
) -> None:
    existing = _get_partition(glue, database, table, date_prefix)
    if existing is None:
        partition = {
            "Values": [date_prefix],
            "StorageDescriptor": storage_descriptor(columns, location, compression),
        }
        try:
            glue.create_partition(DatabaseName=database, TableName=table, PartitionInput=partition)
            result.partition_created = True
            return
        except Exception as exc:
            if _error_code(exc) != "AlreadyExistsException":
                raise
            existing = glue.get_partition(
                DatabaseName=database, TableName=table, PartitionValues=[date_prefix]
            )["Partition"]
    descriptor = dict(existing.get("StorageDescriptor") or {})
    result.partition_location = descriptor.get("Location", location)
    current = _columns_of(descriptor)
    merged, added, _conflicts = merge_columns(current, columns)
    if added:
        # The partition keeps its location (a replay may point it at a snapshot); only its columns follow the table.
        descriptor["Columns"] = [col.as_glue() for col in merged]
        glue.update_partition(
            DatabaseName=database,
            TableName=table,
            PartitionValueList=[date_prefix],
            PartitionInput={"Values": [date_prefix], "StorageDescriptor": descriptor},
        )


def register_manifest_output(
    glue_client: Any, database: str, table: str, location: str, date_prefix: str, report: dict[str, Any]
) -> RegistrationResult:
    """Register one successful manifest's output: table (created or widened) and the `dt=<date_prefix>` partition.

    `location` is the table root (the Glue job's OUTPUT_PATH, `s3://bucket/prefix/`); `report` is the job report
    (its `schema` and `codec` are used). Idempotent; never moves an existing partition.
    """
    validate_names(database, table)
    if not _DATE.fullmatch(date_prefix):
        raise CatalogError(f"The date prefix {date_prefix!r} is not YYYY-MM-DD.")
    if not location.startswith("s3://"):
        raise CatalogError(f"The table location {location!r} must be an s3:// URL.")
    if "schema" not in report:
        raise UnsupportedSchema(
            "The job report has no `schema`: the Glue job must report the schema it wrote."
        )
    mapped = map_schema(report["schema"])
    codec = report.get("codec")
    compression = str(codec) if codec else None
    result = RegistrationResult(
        database=database,
        table=table,
        partition_location=partition_location(location, date_prefix),
        skipped_columns=list(mapped.skipped),
    )
    if mapped.skipped:
        logger.warning(
            "catalog: %d field(s) left out of %s.%s: %s",
            len(mapped.skipped),
            database,
            table,
            "; ".join(mapped.skipped),
        )
    columns = _ensure_table(glue_client, database, table, location, mapped, compression, result)
    if result.type_conflicts:
        logger.warning("catalog: type drift kept the table's types: %s", "; ".join(result.type_conflicts))
    _ensure_partition(
        glue_client, database, table, date_prefix, columns, result.partition_location, compression, result
    )
    return result


def set_partition_location(
    glue_client: Any, database: str, table: str, date_prefix: str, location: str
) -> bool:
    """Point an existing partition at `location` (one atomic catalog update); False when there is no partition."""
    partition = _get_partition(glue_client, database, table, date_prefix)
    if partition is None:
        return False
    descriptor = dict(partition.get("StorageDescriptor") or {})
    descriptor["Location"] = location
    glue_client.update_partition(
        DatabaseName=database,
        TableName=table,
        PartitionValueList=[date_prefix],
        PartitionInput={"Values": [date_prefix], "StorageDescriptor": descriptor},
    )
    return True


def get_partition_location(glue_client: Any, database: str, table: str, date_prefix: str) -> str | None:
    partition = _get_partition(glue_client, database, table, date_prefix)
    if partition is None:
        return None
    return str(partition.get("StorageDescriptor", {}).get("Location") or "") or None


# ------------------------------------------------------------------------------------------ Lambda wiring

CATALOG_ENV = ("GLUE_DATABASE", "GLUE_TABLE", "OUTPUT_PATH")


@dataclass(frozen=True)
class CatalogTarget:
    """Where the status update registers each completed manifest (from the Lambda's environment)."""

    database: str
    table: str
    location: str

    @classmethod
    def from_env(cls, env: Any) -> CatalogTarget | None:
        """`GLUE_DATABASE` (unset or empty: registration off), `GLUE_TABLE` (default `events`), `OUTPUT_PATH`
        (the Glue job's output root, `s3://bucket/prefix/`). A bad value raises `CatalogError` naming it."""
        database = str(env.get("GLUE_DATABASE") or "").strip()
        if not database:
            return None
        table = str(env.get("GLUE_TABLE") or "events").strip()
        location = str(env.get("OUTPUT_PATH") or "").strip()
        problems = []
        if athena_name(database) != database:
            problems.append(f"GLUE_DATABASE={database!r}: use lower-case letters, digits and '_'")
        if athena_name(table) != table:
            problems.append(f"GLUE_TABLE={table!r}: use lower-case letters, digits and '_'")
        if not location.startswith("s3://") or len(location) <= len("s3://"):
            problems.append(f"OUTPUT_PATH={location!r}: expected s3://bucket/prefix/")
        if problems:
            raise CatalogError("invalid catalog configuration: " + "; ".join(problems))
        return cls(database, table, location if location.endswith("/") else location + "/")

    def register(self, glue_client: Any, date_prefix: str, report: dict[str, Any]) -> RegistrationResult:
        return register_manifest_output(
            glue_client, self.database, self.table, self.location, date_prefix, report
        )


@dataclass(frozen=True)
class GlueCatalog:
    """The service's ``Catalog`` port: a ``CatalogTarget`` and the Glue client it registers with."""

    target: CatalogTarget
    glue_client: Any

    def register(self, date_prefix: str, report: dict[str, Any]) -> RegistrationResult:
        return self.target.register(self.glue_client, date_prefix, report)
