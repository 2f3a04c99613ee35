"""ParquetTarget: the Hive-style Parquet table (`OUTPUT_PATH/dt=D/`) behind the TableTarget port.

The contract is the Glue table's columns (with --CATALOG_DATABASE; the metadata columns and `dt` left out) or,
without a catalog, `OUTPUT_PATH/_schema/contract.json` (Spark StructType JSON, the --SCHEMA_PATH format). Publish
writes the evolved contract first (new Glue columns appended, or the file replaced atomically), then moves the
staged files into the date's folder, replacing exactly this manifest's earlier files (a re-run replaces its own
files: nothing is "already committed").
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import pyarrow as pa

from .args import JobArgs
from .constants import META_COLUMNS, PARTITION_COLUMN, TS_TYPE
from .contract import Evolution, from_json, to_json
from .errors import JobError
from .manifest import Manifest
from .parquet import StagedFile
from .publish import owned_by, publish_replacing
from .storage import Storage, join, normalise
from .tables import Contract, TableTarget

CONTRACT_FILE = "_schema/contract.json"
_NOT_DATA = frozenset((PARTITION_COLUMN, *META_COLUMNS))

# ------------------------------------------------------------------------------------------ Hive type strings

_HIVE_TO_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "timestamp": TS_TYPE,
    "date": pa.date32(),
}
_ARROW_TO_HIVE: dict[pa.DataType, str] = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.int32(): "int",
    pa.int16(): "smallint",
    pa.int8(): "tinyint",
    pa.float64(): "double",
    pa.float32(): "float",
    pa.bool_(): "boolean",
    pa.date32(): "date",
}


def hive_type(data_type: pa.DataType) -> str:
    """The Glue (Hive) column type of an Arrow type."""
    if data_type in _ARROW_TO_HIVE:
        return _ARROW_TO_HIVE[data_type]
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    if pa.types.is_struct(data_type):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in data_type) + ">"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return f"array<{hive_type(data_type.value_type)}>"
    if pa.types.is_null(data_type) or pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    raise ValueError(f"type {data_type} has no Glue column type")


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside <...> and (...)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def arrow_type(hive: str) -> pa.DataType:
    """The Arrow type of a Glue (Hive) column type string (ValueError when it has none)."""
    text = hive.strip()
    lowered = text.lower()
    base = re.sub(r"\(.*\)$", "", lowered) if not lowered.startswith("decimal") else lowered
    if base in _HIVE_TO_ARROW:
        return _HIVE_TO_ARROW[base]
    match = re.match(r"^decimal\((\d+)\s*,\s*(\d+)\)$", lowered)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    if lowered.startswith("array<") and lowered.endswith(">"):
        return pa.list_(arrow_type(text[len("array<") : -1]))
    if lowered.startswith("struct<") and lowered.endswith(">"):
        fields = []
        for part in _split_top(text[len("struct<") : -1]):
            name, _, child = part.partition(":")
            fields.append(pa.field(name.strip(), arrow_type(child)))
        return pa.struct(fields)
    raise ValueError(f"unsupported Glue column type '{hive}'")


# ------------------------------------------------------------------------------------------ the target


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def glue_client() -> Any:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL_GLUE") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client("glue", endpoint_url=endpoint) if endpoint else boto3.client("glue")


class ParquetTarget(TableTarget):
    table_format = "parquet"
    promotes_types = False  # the older files keep their physical type: Spark 3.5 could not read the date

    def __init__(self, args: JobArgs, storage: Storage) -> None:
        self.args = args
        self.storage = storage
        self.output = normalise(args.output_path)
        self.contract_file = join(self.output, CONTRACT_FILE)
        self._existed = False
        self._glue: Any = None

    # -- the contract

    @property
    def _source(self) -> str:
        if self.args.catalog_database:
            return f"glue:{self.args.catalog_database}.{self.args.catalog_table}"
        return f"file:{self.contract_file}"

    def contract(self) -> Contract:
        schema = self._glue_contract() if self.args.catalog_database else self._file_contract()
        self._existed = schema is not None
        return Contract(schema, self._source)

    def _file_contract(self) -> pa.Schema | None:
        try:
            body = self.storage.read_bytes(self.contract_file)
        except (FileNotFoundError, OSError) as exc:
            if self._exists(self.contract_file):
                raise JobError("ContractUnreadable", f"cannot read {self.contract_file}: {exc}") from exc
            return None
        try:
            return from_json(json.loads(body.decode("utf-8-sig")))
        except ValueError as exc:
            raise JobError(
                "ContractUnreadable",
                f"{self.contract_file} is not a Spark StructType JSON schema: {exc}; fix or remove it",
            ) from exc

    def _exists(self, location: str) -> bool:
        import pyarrow.fs as pafs

        filesystem, path = self.storage.fs(location)
        return bool(filesystem.get_file_info(path).type == pafs.FileType.File)

    def _client(self) -> Any:
        if self._glue is None:
            self._glue = glue_client()
        return self._glue

    def _get_table(self) -> dict[str, Any] | None:
        try:
            table: dict[str, Any] = self._client().get_table(
                DatabaseName=self.args.catalog_database, Name=self.args.catalog_table
            )["Table"]
        except Exception as exc:
            if _error_code(exc) == "EntityNotFoundException":
                return None
            raise JobError("CatalogUnavailable", f"cannot read the Glue table {self._source}: {exc}") from exc
        return table

    def _glue_contract(self) -> pa.Schema | None:
        table = self._get_table()
        if table is None:
            return None
        columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
        try:
            fields = [
                pa.field(c["Name"], arrow_type(c["Type"]))
                for c in columns
                if c["Name"].lower() not in _NOT_DATA
            ]
        except ValueError as exc:
            raise JobError("ContractUnreadable", f"the Glue table {self._source}: {exc}") from exc
        return pa.schema(fields) if fields else None

    # -- the run

    def already_committed(self, manifest_id: str) -> dict[str, Any] | None:
        return None  # a re-run replaces this manifest's files in the partition

    def write_dir(self, staging: str, manifest: Manifest) -> str:
        return join(staging, "out")

    def file_prefix(self, manifest_id: str, run_id: str) -> str:
        return manifest_id  # `owned_by` finds a manifest's files by this prefix

    def partition_value(self, manifest: Manifest) -> str | None:
        return None  # the folder dt=D carries it

    def partition_dir(self, manifest: Manifest) -> str:
        return join(self.output, f"{PARTITION_COLUMN}={manifest.date_prefix}")

    def publish(
        self, files: list[StagedFile], evolution: Evolution, manifest: Manifest, run_id: str
    ) -> dict[str, Any]:
        if evolution.changed or not self._existed:
            self.write_contract(evolution.schema)
        published = publish_replacing(
            self.storage,
            [f.staged for f in files],
            self.partition_dir(manifest),
            owned_by(manifest.manifest_id),
        )
        return {"output_files": published}

    def discard(self, files: list[StagedFile]) -> None:
        for staged in files:
            try:
                self.storage.delete(staged.staged)
            except (FileNotFoundError, OSError):
                continue

    # -- writing the contract

    def write_contract(self, schema: pa.Schema) -> None:
        """Write the contract (the Glue table's columns with --CATALOG_DATABASE, else contract.json)."""
        if self.args.catalog_database:
            self._write_glue(schema)
            return
        body = json.dumps(to_json(schema), indent=2).encode("utf-8")
        if self.contract_file.startswith("s3://"):  # a PUT is atomic on S3
            self.storage.write_bytes(self.contract_file, body)
            return
        temporary = join(self.output, "_schema", f".contract.{uuid.uuid4().hex[:8]}.tmp")
        self.storage.write_bytes(temporary, body)
        self.storage.move(temporary, self.contract_file)

    def _write_glue(self, schema: pa.Schema) -> None:
        data = [{"Name": f.name, "Type": hive_type(f.type)} for f in schema]
        metadata = [
            {"Name": "_source_file", "Type": "string"},
            {"Name": "_manifest_id", "Type": "string"},
            {"Name": "_ingested_at", "Type": "timestamp"},
        ]
        glue = self._client()
        for _attempt in range(5):
            existing = self._get_table()
            if existing is None:
                try:
                    glue.create_table(
                        DatabaseName=self.args.catalog_database, TableInput=self._new_table(data + metadata)
                    )
                except Exception as exc:
                    if _error_code(exc) == "AlreadyExistsException":
                        continue
                    raise JobError(
                        "CatalogUpdateFailed", f"cannot create the Glue table {self._source}: {exc}"
                    ) from exc
                return
            descriptor = dict(existing.get("StorageDescriptor") or {})
            current = list(descriptor.get("Columns") or [])
            by_name = {c["Name"].lower(): index for index, c in enumerate(current)}
            for column in data:
                if column["Name"].lower() in by_name:  # promoted types replace the table's
                    current[by_name[column["Name"].lower()]] = {
                        **current[by_name[column["Name"].lower()]],
                        "Type": column["Type"],
                    }
                else:
                    current.append(column)
            descriptor["Columns"] = current
            allowed = (
                "Name",
                "Description",
                "Owner",
                "Retention",
                "PartitionKeys",
                "TableType",
                "Parameters",
            )
            table_input = {key: existing[key] for key in allowed if key in existing}
            table_input["StorageDescriptor"] = descriptor
            kwargs: dict[str, Any] = {"DatabaseName": self.args.catalog_database, "TableInput": table_input}
            if existing.get("VersionId"):
                kwargs["VersionId"] = existing[
                    "VersionId"
                ]  # optimistic lock: re-merge on a concurrent update
            try:
                glue.update_table(**kwargs)
            except Exception as exc:
                if _error_code(exc) == "ConcurrentModificationException":
                    continue
                raise JobError(
                    "CatalogUpdateFailed", f"cannot update the Glue table {self._source}: {exc}"
                ) from exc
            return
        raise JobError(
            "CatalogUpdateFailed", f"the Glue table {self._source} kept changing under concurrent updates"
        )

    def _new_table(self, columns: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Name": self.args.catalog_table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet"},
            "StorageDescriptor": {
                "Columns": columns,
                "Location": self.output.rstrip("/") + "/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                    "Parameters": {"serialization.format": "1"},
                },
                "Parameters": {"classification": "parquet"},
            },
            "PartitionKeys": [{"Name": PARTITION_COLUMN, "Type": "string"}],
        }
