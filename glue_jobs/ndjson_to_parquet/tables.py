"""The table a run writes into: the port the driver talks to, whatever the table format.

`TableTarget` is what `job.run_job` needs of a table: its schema contract (`contract.py` evolves it by the rules
and conforms every batch to it), where the write tasks put their files, and the publish step that makes a run's
files visible to readers all at once. Two adapters implement it:

- `ParquetTarget` (`--TABLE_FORMAT parquet`): Hive-style `OUTPUT_PATH/dt=D/` folders as before; the contract lives
  in the Glue table's columns (with `--CATALOG_DATABASE`) or in `OUTPUT_PATH/_schema/contract.json`; publish moves
  the staged files into the partition, replacing exactly this manifest's earlier files.
- `IcebergTarget` (`--TABLE_FORMAT iceberg`, `iceberg.py`): the contract is the Iceberg table schema; the tasks
  write straight under the table's data folder (files no snapshot references are invisible) and publish is one
  Iceberg commit per manifest, its snapshot summary carrying the manifest id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .args import JobArgs
from .contract import Evolution
from .manifest import Manifest
from .parquet import StagedFile
from .storage import Storage


@dataclass(frozen=True)
class Contract:
    """The table's data schema (no metadata or partition column) before this run, and where it was read."""

    schema: pa.Schema | None  # None: no table yet, the first batch creates the contract
    source: str  # e.g. "iceberg glue:db.table", "glue:db.table", "file:/out/_schema/contract.json"


class TableTarget(ABC):
    table_format: str
    # Whether a batch may widen a contract type by Iceberg's promotions. Iceberg readers widen the older files;
    # plain Parquet readers do not (Spark 3.5 refuses an INT32 file column read as bigint), so a plain Parquet
    # table keeps its types and conforms the values instead.
    promotes_types: bool = True

    @abstractmethod
    def contract(self) -> Contract:
        """The current contract (read once per run, before anything is written)."""

    @abstractmethod
    def already_committed(self, manifest_id: str) -> dict[str, Any] | None:
        """Report fields of an earlier run that made this manifest visible, or None (a re-run then writes)."""

    @abstractmethod
    def write_dir(self, staging: str, manifest: Manifest) -> str:
        """Where the write tasks put this run's Parquet files."""

    @abstractmethod
    def file_prefix(self, manifest_id: str, run_id: str) -> str:
        """The start of this run's file names (a task adds `.part-<task>-<n>.parquet`)."""

    @abstractmethod
    def partition_value(self, manifest: Manifest) -> str | None:
        """The `dt` value written into every row of the files, or None when the folder carries it."""

    def file_schema(self, evolution: Evolution) -> pa.Schema | None:
        """The files' exact schema (e.g. with the table's field ids), or None: the write tasks build it."""
        return None

    @abstractmethod
    def publish(
        self, files: list[StagedFile], evolution: Evolution, manifest: Manifest, run_id: str
    ) -> dict[str, Any]:
        """Make the run's files (and the evolved contract) visible at once; returns the report fields."""

    @abstractmethod
    def discard(self, files: list[StagedFile]) -> None:
        """Remove files a run wrote but will not publish (best effort: maintenance removes what is left)."""


def target_for(args: JobArgs, storage: Storage) -> TableTarget:
    """The table this run writes into, by --TABLE_FORMAT (the Iceberg adapter is imported only when used)."""
    if args.table_format == "iceberg":
        from .iceberg import IcebergTarget

        return IcebergTarget(args, storage)
    from .parquet_table import ParquetTarget

    return ParquetTarget(args, storage)
