"""The pipeline's promise as one executable check: "every line that lands is converted or quarantined exactly once,
and nothing is stuck silently".

`check(...)` reads what a stack holds (the input objects, the tracking items of the given dates, the manifest
objects, the Parquet output and the quarantine) and returns an `InvariantReport`:

- **lines**: for every input object whose tracked content (same ETag) is `completed`, its non-blank lines (the Glue
  job's definition: lines holding more than `" \\t\\r"`, gzip decompressed, a leading BOM ignored) equal its
  Parquet rows plus its quarantined lines *of the manifest that completed it*. A file item with a `version_id` (a
  versioned input bucket) is counted on that object version, overwritten or not: the lines of every version a
  manifest completed add up to its rows plus quarantined lines (`_source_file` is the key's URL for every
  version) (`_source_file`/`_manifest_id` in
  Parquet, `source_file` and the `manifest_id=` folder in the quarantine). Rows or quarantined lines of a file under
  any other manifest (a duplicate), or of a file that is not completed (a partial publish), are violations, except
  rows of a `manifested` file under its own running manifest (published, the status update not arrived yet: in
  flight).
- **tracking**: every file item (read with its derived status, `ops/table_reads.with_derived_status`: a `manifested`
  file of a final manifest has the manifest's status) is `completed` or `failed` (terminal), or explainably in
  flight: `pending` with its pending-index keys (a later batch or flush takes it), `manifested` under a manifest
  whose MANIFEST item is not final or whose `CLAIM#` item is open (the flush's repair takes it). Every input object with an accepted suffix is
  tracked under its current ETag.
- **manifests**: every MANIFEST item has an `execution_arn` and its manifest object; its `file_count` equals the
  files carrying its id; a `completed`/`failed` manifest's files share its status; its object lists exactly those
  files; a completed manifest's job report satisfies `records_out + bad_records == records_in`.
- **no orphans**: every manifest object belongs to a MANIFEST item or to an open claim.

`report.violations` must be empty at every moment; `report.in_flight` lists what is legitimately unfinished, and
is empty once the pipeline has settled (`report.settled`). Reads are bounded by the dates given (one partition
query each) and the listed prefixes: a test and operator tool, not a Lambda code path.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlparse

import pyarrow.parquet as pq

from glue_jobs.ndjson_to_parquet.iceberg import CatalogAccess, TableRef, load_table, open_catalog
from pipeline.contracts.lines import count_records_in
from pipeline.contracts.report import report_key
from pipeline.contracts.suffixes import DEFAULT_SUFFIXES
from pipeline.control_plane.domain.items import CLAIM_KEY_PREFIX, FILE_KEY_PREFIX, MANIFEST_KEY_PREFIX, id_of
from pipeline.ops.table_reads import query_date, with_derived_status

FINAL = ("completed", "failed")


@dataclass
class InvariantReport:
    violations: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    objects_checked: int = 0
    lines_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def settled(self) -> bool:
        return self.ok and not self.in_flight

    def summary(self) -> str:
        parts = [f"{len(self.violations)} violation(s), {len(self.in_flight)} in flight"]
        parts += [f"VIOLATION {v}" for v in self.violations[:40]]
        parts += [f"in flight: {v}" for v in self.in_flight[:20]]
        return "\n".join(parts)


@dataclass(frozen=True)
class Locations:
    input_bucket: str
    input_prefix: str
    table: str
    manifest_bucket: str
    manifest_prefix: str
    output_path: str  # s3://bucket/prefix/
    bad_records_path: str  # s3://bucket/prefix/
    accepted_suffixes: tuple[str, ...] = DEFAULT_SUFFIXES
    # Maps a `_source_file` / `source_file` value to the input's s3:// URL. Identity on AWS; the embedded Glue
    # runner's staged mode (`GlueRunner(stage_inputs=True)`) records local staging copies instead.
    source_url: Callable[[str], str] = lambda value: value
    # The Iceberg table (format "iceberg"): rows are counted in its committed snapshot, never in raw files (an
    # uncommitted run's files, or files a compaction replaced, are not rows of the table).
    iceberg: IcebergTable | None = None


@dataclass(frozen=True)
class IcebergTable:
    database: str
    name: str
    access: CatalogAccess = field(default_factory=CatalogAccess)


def split_s3(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme not in ("s3", "s3a"):
        raise ValueError(f"not an s3:// location: {url}")
    return parsed.netloc, parsed.path.lstrip("/")


def _list(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(page.get("Contents", []))
    return out


def _body(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _version_body(s3: Any, bucket: str, key: str, version_id: str) -> bytes | None:
    """One object version's bytes; None when that version no longer exists (deleted, or expired by lifecycle)."""
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read())
    except Exception as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchVersion", "NotFound", "InvalidArgument"):
            return None
        raise


def decoded_content(raw: bytes, key: str) -> bytes | None:
    """The object's text bytes as the job reads them, or None when it cannot be decompressed (truncated gzip)."""
    if key.lower().endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return None
    return raw


def count_lines(content: bytes) -> int:
    """Records (non-blank lines, pipeline.contracts.lines), as the Glue job counts `records_in`."""
    return count_records_in(content)


def _ddb_int(value: Any) -> int:
    return int(value) if value is not None else 0


def _iceberg_counts(
    loc: Locations, dates: list[str]
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], Any]]:
    """Rows of the committed snapshot per (source url, manifest id), and the earliest `_ingested_at`."""
    assert loc.iceberg is not None
    ref = TableRef(loc.iceberg.database, loc.iceberg.name, loc.output_path.rstrip("/"))
    table = load_table(open_catalog(ref, loc.iceberg.access), ref)
    counts: Counter[tuple[str, str]] = Counter()
    started: dict[tuple[str, str], Any] = {}
    if table is None or table.current_snapshot() is None:
        return counts, started
    for date in dates:
        rows = table.scan(
            row_filter=f"dt == '{date}'", selected_fields=("_source_file", "_manifest_id", "_ingested_at")
        ).to_arrow()
        sources = [loc.source_url(value) for value in cast(list[str], rows["_source_file"].to_pylist())]
        pairs = list(zip(sources, cast(list[str], rows["_manifest_id"].to_pylist()), strict=True))
        counts.update(pairs)
        for pair, at in zip(pairs, rows["_ingested_at"].to_pylist(), strict=True):
            if at is not None and (pair not in started or at < started[pair]):
                started[pair] = at
    return counts, started


def _output_counts(
    s3: Any, loc: Locations, dates: list[str]
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], Any]]:
    """Parquet rows per (source url, manifest id), and the earliest `_ingested_at` (run start) of each pair."""
    if loc.iceberg is not None:
        return _iceberg_counts(loc, dates)
    bucket, prefix = split_s3(loc.output_path)
    counts: Counter[tuple[str, str]] = Counter()
    started: dict[tuple[str, str], Any] = {}
    for date in dates:
        for obj in _list(s3, bucket, f"{prefix.rstrip('/')}/dt={date}/"):
            if not obj["Key"].endswith(".parquet"):
                continue
            table = pq.read_table(
                io.BytesIO(_body(s3, bucket, obj["Key"])),
                columns=["_source_file", "_manifest_id", "_ingested_at"],
            )
            # Both metadata columns are non-null strings in every file the job writes.
            sources = [loc.source_url(value) for value in cast(list[str], table["_source_file"].to_pylist())]
            manifest_ids = cast(list[str], table["_manifest_id"].to_pylist())
            pairs = list(zip(sources, manifest_ids, strict=True))
            counts.update(pairs)
            for pair, at in zip(pairs, table["_ingested_at"].to_pylist(), strict=True):
                if at is not None and (pair not in started or at < started[pair]):
                    started[pair] = at
    return counts, started


def _quarantine_counts(s3: Any, loc: Locations, dates: list[str]) -> Counter[tuple[str, str]]:
    bucket, prefix = split_s3(loc.bad_records_path)
    counts: Counter[tuple[str, str]] = Counter()
    for date in dates:
        for obj in _list(s3, bucket, f"{prefix.rstrip('/')}/dt={date}/"):
            folder = next((p for p in obj["Key"].split("/") if p.startswith("manifest_id=")), None)
            if folder is None or not obj["Key"].endswith(".ndjson"):
                continue
            manifest_id = folder.split("=", 1)[1]
            for line in _body(s3, bucket, obj["Key"]).splitlines():
                if line.strip():
                    counts[(loc.source_url(json.loads(line)["source_file"]), manifest_id)] += 1
    return counts


def check(
    s3: Any, ddb: Any, locations: Locations, dates: list[str], input_prefixes: list[str] | None = None
) -> InvariantReport:
    """Run every invariant over `dates` (see the module docstring). Input objects are listed under
    `input_prefixes` (default: the whole `input_prefix`; give the dates' own prefixes when other dates share it);
    manifest objects under `<manifest_prefix><date>/`."""
    report = InvariantReport()
    loc = locations
    files: list[dict[str, Any]] = []
    manifests: dict[str, dict[str, Any]] = {}
    open_claims: set[str] = set()
    for date in dates:
        for item in query_date(ddb, loc.table, date):
            key = str(item["file_key"])
            if key.startswith(FILE_KEY_PREFIX):
                files.append(item)
            elif key.startswith(MANIFEST_KEY_PREFIX):
                # The id is taken from the key: a MANIFEST item being written may not show every attribute yet.
                manifests[id_of(key)] = item
            elif key.startswith(CLAIM_KEY_PREFIX) and item.get("claim_open"):
                open_claims.add(id_of(key))

    # Every file reads with its derived status (a `manifested` file of a final manifest has the manifest's).
    with_derived_status(files, manifests.values())

    # ---- tracking items: terminal or explainably in flight
    files_by_manifest: dict[str, list[dict[str, Any]]] = {}
    for item in files:
        status, name = item.get("status"), f"{item['bucket']}/{item['key']} ({item['etag']})"
        manifest_id = item.get("manifest_id")
        if manifest_id:
            files_by_manifest.setdefault(str(manifest_id), []).append(item)
        if status in FINAL:
            manifest = manifests.get(str(manifest_id))
            if manifest is None:
                report.violations.append(
                    f"file {name} is {status} but its manifest {manifest_id} has no item"
                )
            elif manifest.get("status") != status and not manifest.get("superseded_by"):
                report.violations.append(
                    f"file {name} is {status} but manifest {manifest_id} is {manifest.get('status')}"
                )
        elif status == "pending":
            if item.get("pending_shard") and item.get("pending_key"):
                report.in_flight.append(f"file {name} pending (in the pending index)")
            else:
                report.violations.append(f"file {name} is pending but missing from the pending index")
        elif status == "manifested":
            manifest = manifests.get(str(manifest_id))
            if manifest is not None and manifest.get("status") not in FINAL:
                report.in_flight.append(f"file {name} in running manifest {manifest_id}")
            elif manifest is None and str(manifest_id) in open_claims:
                report.in_flight.append(f"file {name} in open claim {manifest_id} (the flush repairs it)")
            else:
                report.violations.append(
                    f"file {name} is manifested under {manifest_id}, which is "
                    f"{manifest.get('status') if manifest else 'neither recorded nor an open claim'}"
                )
        else:
            report.violations.append(f"file {name} has an unknown status {status!r}")
    for manifest_id in sorted(open_claims):
        state = "its MANIFEST item exists" if manifest_id in manifests else "not recorded yet"
        report.in_flight.append(f"open claim {manifest_id} ({state}; the flush's repair closes it)")

    # ---- manifests
    manifest_bucket_objects = {
        o["Key"]: o
        for date in dates
        for o in _list(s3, loc.manifest_bucket, f"{loc.manifest_prefix}{date}/")
        if o["Key"].endswith(".json")
    }
    output_bucket, output_prefix = split_s3(loc.output_path)
    for manifest_id, manifest in manifests.items():
        status = manifest.get("status")
        if not manifest.get("execution_arn"):
            report.violations.append(f"manifest {manifest_id} has no execution_arn")
        if status not in FINAL:
            report.in_flight.append(f"manifest {manifest_id} is {status}")
        if manifest.get("superseded_by"):
            continue
        mine = files_by_manifest.get(manifest_id, [])
        if _ddb_int(manifest.get("file_count")) != len(mine):
            report.violations.append(
                f"manifest {manifest_id} says {manifest.get('file_count')} files, {len(mine)} carry its id"
            )
        path = str(manifest.get("manifest_path", ""))
        try:
            bucket, key = split_s3(path)
        except ValueError:
            report.violations.append(f"manifest {manifest_id} has no valid manifest_path ({path!r})")
            continue
        if bucket != loc.manifest_bucket or key not in manifest_bucket_objects:
            report.violations.append(f"manifest {manifest_id}: object {path} is missing")
        else:
            document = json.loads(_body(s3, bucket, key))
            # (url, version id): each tracked version is an entry; unversioned contents of a key are one entry
            entries = sorted((e["url"], e.get("version_id") or "") for e in document.get("entries", []))
            expected = sorted(
                {(f"s3://{f['bucket']}/{f['key']}", str(f.get("version_id") or "")) for f in mine}
            )
            if entries != expected:
                report.violations.append(f"manifest {manifest_id} lists {entries}, its files are {expected}")
        if status == "completed":
            try:
                job = json.loads(_body(s3, output_bucket, report_key(output_prefix, manifest_id)))
            except Exception as exc:  # any read failure is the violation
                report.violations.append(f"manifest {manifest_id} completed without a job report ({exc})")
            else:
                if job.get("records_out", 0) + job.get("bad_records", 0) != job.get("records_in", -1):
                    report.violations.append(f"manifest {manifest_id}: report counts do not add up: {job}")
    known = set(manifests) | open_claims
    for key in manifest_bucket_objects:
        manifest_id = key.rsplit("/", 1)[-1][: -len(".json")]
        if manifest_id not in known:
            report.violations.append(f"orphan manifest object s3://{loc.manifest_bucket}/{key}")

    # ---- lines: exactly once in Parquet or quarantine
    output, run_started = _output_counts(s3, loc, dates)
    quarantine = _quarantine_counts(s3, loc, dates)
    accounted: set[tuple[str, str]] = set()
    # lines of the completed versions, per (url, manifest id)
    versioned_lines: Counter[tuple[str, str]] = Counter()
    unrecountable: set[tuple[str, str]] = set()  # a completed version of it no longer exists
    by_object: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in files:
        by_object.setdefault((str(item["bucket"]), str(item["key"])), []).append(item)
    listed = [
        o for prefix in (input_prefixes or [loc.input_prefix]) for o in _list(s3, loc.input_bucket, prefix)
    ]
    for obj in listed:
        key = obj["Key"]
        if not key.lower().endswith(tuple(s.lower() for s in loc.accepted_suffixes)):
            report.notes.append(f"not an accepted suffix, not tracked: {key}")
            continue
        url = f"s3://{loc.input_bucket}/{key}"
        etag = str(obj["ETag"]).strip('"')
        items = by_object.get((loc.input_bucket, key), [])
        current = [i for i in items if str(i["etag"]) == etag]
        if not current:
            report.violations.append(f"input {url} (etag {etag}) is not tracked")
            continue
        report.objects_checked += 1
        for item in items:
            manifest_id = str(item.get("manifest_id", ""))
            pair = (url, manifest_id)
            accounted.add(pair)
            stored = output[pair] + quarantine[pair]
            if item.get("status") == "completed":
                version_id = item.get("version_id")
                if version_id:
                    raw = _version_body(s3, loc.input_bucket, key, str(version_id))
                    versioned = decoded_content(raw, key) if raw is not None else None
                    if raw is None:
                        report.notes.append(f"{url}: version {version_id} no longer exists, not recounted")
                        unrecountable.add(pair)
                    elif versioned is None:
                        report.violations.append(
                            f"{url} version {version_id} is completed but cannot be decompressed"
                        )
                    else:
                        versioned_lines[pair] += count_lines(versioned)
                    continue
                if str(item["etag"]) != etag:
                    # An unversioned bucket: the old content cannot be recounted. But a run that started after
                    # the object was replaced read the *new* content, which its own item converts too.
                    started = run_started.get(pair)
                    if started is not None and started > obj["LastModified"]:
                        report.violations.append(
                            f"{url}: manifest {manifest_id} (tracked for content {item['etag']}) ran after the "
                            f"object was replaced by {etag}: it converted the new content, tracked on its own"
                        )
                    else:
                        report.notes.append(f"{url}: content {item['etag']} was replaced, not recounted")
                    continue
                content = decoded_content(_body(s3, loc.input_bucket, key), key)
                if content is None:
                    report.violations.append(f"{url} is completed but cannot be decompressed")
                    continue
                lines = count_lines(content)
                report.lines_checked += lines
                if stored != lines:
                    report.violations.append(
                        f"{url}: {lines} non-blank lines, {output[pair]} Parquet rows + "
                        f"{quarantine[pair]} quarantined under {manifest_id}"
                    )
            elif output[pair]:
                running = manifests.get(manifest_id, {}).get("status") not in (*FINAL, None)
                if item.get("status") == "manifested" and running:
                    # The Glue job has published; the state machine's status update has not arrived yet.
                    report.in_flight.append(
                        f"{url}: {output[pair]} Parquet rows published by running manifest {manifest_id}"
                    )
                else:
                    report.violations.append(
                        f"{url} is {item.get('status')} but has {output[pair]} Parquet rows under {manifest_id}"
                    )
    for pair, lines in sorted(versioned_lines.items()):
        if pair in unrecountable:
            continue
        report.lines_checked += lines
        stored = output[pair] + quarantine[pair]
        if stored != lines:
            report.violations.append(
                f"{pair[0]}: {lines} non-blank lines in its completed versions, {output[pair]} Parquet rows + "
                f"{quarantine[pair]} quarantined under {pair[1]}"
            )
    for pair, count in (output + quarantine).items():
        if pair not in accounted and count:
            manifest = manifests.get(pair[1], {})
            if manifest.get("superseded_by"):
                continue
            report.violations.append(
                f"{count} rows/quarantined lines of {pair[0]} under {pair[1]}, not its file's"
            )
    return report
