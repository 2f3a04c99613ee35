"""Reading the committed Iceberg table: through the Glue catalog while the embedded AWS runs, or offline from the
work folder's mirror after it stopped, at the current snapshot or `--as-of` an earlier one.

- `open_catalog_table(database, table)`: pyiceberg's Glue catalog against the endpoint of the process's environment
  (`AWS_ENDPOINT_URL_GLUE` / `AWS_ENDPOINT_URL`, as the rest of the embedded mode), the table's files read from S3.
- `mirror_table(s3, location, local_root)`: the Glue runner's copy of the table's prefix (`metadata/`, `data/`,
  `_reports/`) from the embedded S3 into `<workdir>/lake/` after each run: new and changed objects only (an index
  of ETags in `.mirror.json`), local files whose object is gone deleted. With the catalog's current
  `metadata_location` it also writes `metadata/version-hint.text`, so the offline reader opens the committed
  metadata file, never a metadata file a lost optimistic-concurrency race left behind.
- `open_offline(lake)`: a pyiceberg `StaticTable` over the mirror's committed (else newest) metadata file, with
  `MirrorFileIO` mapping the table's `s3://bucket/prefix` location onto the mirror folder.
- `resolve_snapshot(table, as_of)`: a snapshot id or an ISO timestamp (the snapshot current at that time);
  `SnapshotNotFound` names the snapshots there are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyiceberg.io import PY_IO_IMPL, InputFile, OutputFile
from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO
from pyiceberg.table import StaticTable, Table
from pyiceberg.table.snapshots import Snapshot

from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess
from pipeline.contracts.errors import PipelineError

if TYPE_CHECKING:
    import pyarrow as pa

MIRROR_FROM = "pipeline.mirror.from"  # FileIO property: the table location as recorded (s3://bucket/prefix)
MIRROR_TO = "pipeline.mirror.to"  # FileIO property: the local folder that holds its copy
MIRROR_INDEX = ".mirror.json"  # key -> ETag of what the mirror downloaded (dot: not part of the table)
VERSION_HINT = "version-hint.text"
_METADATA_NAME = re.compile(r"^(\d+)-.*\.metadata\.json$")
DEFAULT_REGION = "us-east-1"


class MirrorFileIO(PyArrowFileIO):
    """pyarrow FileIO reading `<pipeline.mirror.from>/...` from `<pipeline.mirror.to>/...` (the local mirror)."""

    def _local(self, location: str) -> str:
        source = str(self.properties.get(MIRROR_FROM, "")).rstrip("/")
        target = str(self.properties.get(MIRROR_TO, ""))
        if source and (location == source or location.startswith(source + "/")):
            return str(Path(target, location[len(source) :].lstrip("/")))
        return location

    def new_input(self, location: str) -> PyArrowFile:
        return super().new_input(self._local(location))

    def new_output(self, location: str) -> PyArrowFile:
        return super().new_output(self._local(location))

    def delete(self, location: str | InputFile | OutputFile) -> None:
        text = location.location if isinstance(location, InputFile | OutputFile) else location
        super().delete(self._local(text))


# --------------------------------------------------------------------------------------------- opening the table


def is_iceberg_lake(lake: Path) -> bool:
    """True when the folder holds an Iceberg table's metadata (`metadata/*.metadata.json`)."""
    return metadata_dir(lake) is not None


def metadata_dir(lake: Path, depth: int = 4) -> Path | None:
    """The `metadata/` folder of the table in `lake` (the lake itself, or a key prefix below it), or None.

    Looks `depth` folders down at most, skipping partition (`dt=`), `_`- and `.`-prefixed folders.
    """
    if not lake.is_dir():
        return None
    level = [lake]
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in level:
            candidate = folder / "metadata"
            if candidate.is_dir() and any(candidate.glob("*.metadata.json")):
                return candidate
            below.extend(
                child
                for child in sorted(folder.iterdir())
                if child.is_dir()
                and child.name not in ("metadata", "data")
                and not child.name.startswith(("_", ".", "dt="))
            )
        level = below
    return None


def current_metadata_file(metadata: Path) -> Path:
    """The committed metadata file: the one `version-hint.text` names, else the highest version."""
    hint = metadata / VERSION_HINT
    if hint.is_file():
        named = metadata / Path(hint.read_text(encoding="utf-8").strip()).name
        if named.is_file():
            return named
    files = list(metadata.glob("*.metadata.json"))
    if not files:
        raise _no_table(metadata.parent)

    def order(path: Path) -> tuple[int, int]:
        match = _METADATA_NAME.match(path.name)
        return (int(match.group(1)) if match else -1, path.stat().st_mtime_ns)

    return max(files, key=order)


def open_offline(lake: Path) -> StaticTable:
    """The table of a mirrored lake folder, readable with no AWS at all."""
    metadata = metadata_dir(lake)
    if metadata is None:
        raise _no_table(lake)
    metadata_file = current_metadata_file(metadata)
    try:
        location = str(json.loads(metadata_file.read_text(encoding="utf-8"))["location"])
    except (ValueError, KeyError) as exc:
        raise PipelineError.named(
            "IcebergMetadataInvalid",
            f"{metadata_file} is not an Iceberg metadata file ({exc}).",
            "Run the pipeline again to refresh the lake's mirror.",
            exit_code=2,
        ) from exc
    properties = {
        PY_IO_IMPL: f"{MirrorFileIO.__module__}.{MirrorFileIO.__name__}",
        MIRROR_FROM: location,
        MIRROR_TO: str(metadata.parent.resolve()),
    }
    return StaticTable.from_metadata(str(metadata_file.resolve()), properties)


def catalog_properties(endpoint_url: str | None = None, region: str | None = None) -> dict[str, str]:
    """pyiceberg Glue catalog properties for the endpoint and credentials of this process's environment (the
    job's own `CatalogAccess`; `endpoint_url` and `region` override it)."""
    access = CatalogAccess.from_env()
    access = dataclasses.replace(
        access,
        glue_endpoint=endpoint_url or access.glue_endpoint,
        s3_endpoint=endpoint_url or access.s3_endpoint,
        region=region or access.region or DEFAULT_REGION,
    )
    return {"type": "glue", **access.glue_properties()}


def open_catalog_table(
    database: str, table: str, *, endpoint_url: str | None = None, region: str | None = None
) -> Table:
    """The table as the Glue Data Catalog has it now (the embedded AWS's, or an account's)."""
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import NoSuchTableError

    catalog = load_catalog("glue", **catalog_properties(endpoint_url, region))
    try:
        return catalog.load_table((database, table))
    except NoSuchTableError as exc:
        raise PipelineError.named(
            "IcebergTableNotFound",
            f"The Glue Data Catalog has no Iceberg table {database}.{table}.",
            "Check the database and table names (Terraform outputs glue_database_name, glue_table_name).",
            exit_code=2,
        ) from exc


def _no_table(where: Path) -> PipelineError:
    return PipelineError.named(
        "IcebergTableNotFound",
        f"No Iceberg table metadata (metadata/*.metadata.json) was found under {where}.",
        "Run `pipeline demo` (or `pipeline run --input DIR`) with the Iceberg format first.",
        exit_code=2,
    )


# --------------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    committed_at: str  # ISO 8601, UTC, milliseconds
    operation: str
    manifest_id: str | None
    added_records: int
    added_files: int
    current: bool
    summary: dict[str, str] = field(default_factory=dict)


def _iso(timestamp_ms: int) -> str:
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def snapshots(table: Table) -> list[SnapshotInfo]:
    """Every snapshot the metadata keeps, oldest first."""
    current = table.current_snapshot()
    found = []
    for snapshot in sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
        summary = dict(snapshot.summary.additional_properties) if snapshot.summary else {}
        operation = snapshot.summary.operation.value if snapshot.summary else "unknown"
        found.append(
            SnapshotInfo(
                snapshot_id=snapshot.snapshot_id,
                committed_at=_iso(snapshot.timestamp_ms),
                operation=operation,
                manifest_id=summary.get("manifest-id"),
                added_records=_count(summary.get("added-records")),
                added_files=_count(summary.get("added-data-files")),
                current=current is not None and snapshot.snapshot_id == current.snapshot_id,
                summary=summary,
            )
        )
    return found


def parse_as_of(as_of: str) -> int | dt.datetime:
    """A snapshot id (digits) or an ISO 8601 timestamp (UTC when it names no zone)."""
    text = as_of.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise PipelineError.named(
            "InvalidAsOf",
            f"--as-of {as_of!r} is neither a snapshot id nor an ISO 8601 timestamp.",
            "Give a snapshot id from `pipeline snapshots`, or a time like 2026-12-01T12:00:00Z.",
            exit_code=2,
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def resolve_snapshot(table: Table, as_of: str | None) -> Snapshot | None:
    """The snapshot to read: the current one (None: an empty table) or the one `as_of` names."""
    if as_of is None:
        return table.current_snapshot()
    wanted = parse_as_of(as_of)
    if isinstance(wanted, int):
        found = table.snapshot_by_id(wanted)
        what = f"snapshot {wanted}"
    else:
        found = table.snapshot_as_of_timestamp(int(wanted.timestamp() * 1000))
        what = f"snapshot current at {wanted.isoformat()}"
    if found is None:
        known = snapshots(table)
        listing = ", ".join(f"{s.snapshot_id} ({s.committed_at})" for s in known[-10:]) or "none"
        more = f" (the last 10 of {len(known)})" if len(known) > 10 else ""
        raise PipelineError.named(
            "SnapshotNotFound",
            f"The table has no {what}; its snapshots{more}: {listing}.",
            "Pick a snapshot id or a time at or after the first snapshot (`pipeline snapshots` lists them).",
            exit_code=2,
        )
    return found


def read_arrow(table: Table, as_of: str | None = None) -> pa.Table:
    """The rows of the committed snapshot (or the one `as_of` names) as one Arrow table."""
    snapshot = resolve_snapshot(table, as_of)
    if snapshot is None:
        return table.schema().as_arrow().empty_table()
    return table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()


# --------------------------------------------------------------------------------------------- the mirror


@dataclass
class MirrorResult:
    downloaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith(("s3://", "s3a://", "s3n://")):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def mirror_table(
    s3: Any, location: str, local_root: Path, *, metadata_location: str | None = None
) -> MirrorResult:
    """Copy what changed under the table's `location` (s3://bucket/prefix) into `local_root`, same relative keys."""
    bucket, prefix = _split(location)
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    local_root.mkdir(parents=True, exist_ok=True)
    index_file = local_root / MIRROR_INDEX
    try:
        index: dict[str, str] = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    result = MirrorResult()
    seen: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = str(obj["Key"])[len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            etag = str(obj.get("ETag", "")).strip('"') + f":{obj.get('Size')}"
            seen[relative] = etag
            target = local_root / relative
            if index.get(relative) == etag and target.is_file():
                result.unchanged += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            s3.download_file(bucket, obj["Key"], str(partial))
            partial.replace(target)
            result.downloaded.append(relative)
    for relative in sorted(set(index) - set(seen)):
        (local_root / relative).unlink(missing_ok=True)
        result.deleted.append(relative)
    index_file.write_text(json.dumps(seen, indent=0, sort_keys=True), encoding="utf-8")
    if metadata_location and metadata_location.startswith(location.rstrip("/") + "/metadata/"):
        hint = local_root / "metadata" / VERSION_HINT
        hint.parent.mkdir(parents=True, exist_ok=True)
        hint.write_text(metadata_location.rsplit("/", 1)[1], encoding="utf-8")
    return result
