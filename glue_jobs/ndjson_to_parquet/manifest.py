"""The manifest the job converts, read and validated before any data is touched.

The manifest document is the control plane's contract (pipeline/contracts/manifest.py writes it); the job checks
it again on its own because a hand-written manifest (`python glue_jobs/run_ndjson_to_parquet.py ...`) has had no
other check, and a bad one must fail with a sentence naming the field, not a KeyError in a Spark task.

An entry listed more than once (the same location once normalised: `s3a://` vs `s3://`, a relative vs an absolute
path, and the same `version_id`) is read once, under its first url; it is mandatory when any of its listings is;
the report lists it in `duplicate_entries` with the number of listings.

An entry's optional `version_id` (a non-empty string, s3:// entries only) is the S3 object version to read: the
control plane writes it when the input bucket is versioned, so the manifest converts the content it claimed even
if the key was overwritten since. Two versions of one key are two entries. Without it the key's current content
is read (an unversioned bucket).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .args import MANIFEST_ID_RE
from .errors import JobError
from .storage import Storage, normalise

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Entry:
    url: str  # as written in the manifest (reported and stored in _source_file)
    location: str  # normalised
    mandatory: bool
    version_id: str | None = None  # the S3 object version to read; None: the current content


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    date_prefix: str
    created_at: str | None
    entries: tuple[Entry, ...]  # one per location, in the order of first listing
    duplicate_entries: tuple[
        tuple[str, int], ...
    ] = ()  # (first url, listings) of entries listed more than once


def load_manifest(manifest_path: str, storage: Storage | None = None) -> Manifest:
    storage = storage if storage is not None else Storage.from_env()
    location = normalise(manifest_path)
    try:
        raw = storage.read_bytes(location)
    except (FileNotFoundError, OSError) as exc:
        raise JobError("ManifestNotFound", f"cannot read the manifest {manifest_path}: {exc}") from exc
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise JobError("InvalidManifest", f"{manifest_path} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise JobError(
            "InvalidManifest",
            f"{manifest_path} must be a JSON object with manifest_id, date_prefix and entries",
        )
    manifest_id = doc.get("manifest_id")
    if not isinstance(manifest_id, str) or not MANIFEST_ID_RE.match(manifest_id):
        raise JobError(
            "InvalidManifest",
            f"{manifest_path}: manifest_id must be 1-80 characters of [A-Za-z0-9_-], got {manifest_id!r}",
        )
    date_prefix = doc.get("date_prefix")
    try:
        if not isinstance(date_prefix, str) or not DATE_RE.match(date_prefix):
            raise ValueError
        dt.date.fromisoformat(date_prefix)
    except ValueError:
        raise JobError(
            "InvalidManifest", f"{manifest_path}: date_prefix must be a YYYY-MM-DD date, got {date_prefix!r}"
        ) from None
    base_dir = None if location.startswith("s3://") else str(Path(location).parent)
    created_at = doc.get("created_at")
    entries, duplicates = _unique(_entries(manifest_path, doc.get("entries"), base_dir))
    return Manifest(
        manifest_id=manifest_id,
        date_prefix=date_prefix,
        created_at=created_at if isinstance(created_at, str) else None,
        entries=entries,
        duplicate_entries=duplicates,
    )


def _unique(entries: tuple[Entry, ...]) -> tuple[tuple[Entry, ...], tuple[tuple[str, int], ...]]:
    """One entry per normalised location (mandatory if any listing is), and the entries listed more than once."""
    unique: dict[tuple[str, str | None], Entry] = {}
    listings: dict[tuple[str, str | None], int] = {}
    for entry in entries:
        where = (entry.location, entry.version_id)
        first = unique.get(where)
        if first is None:
            unique[where] = entry
        elif entry.mandatory and not first.mandatory:
            unique[where] = Entry(first.url, first.location, True, first.version_id)
        listings[where] = listings.get(where, 0) + 1
    duplicates = tuple((unique[loc].url, count) for loc, count in listings.items() if count > 1)
    return tuple(unique.values()), duplicates


def _entries(manifest_path: str, entries_doc: object, base_dir: str | None) -> tuple[Entry, ...]:
    if not isinstance(entries_doc, list) or not entries_doc:
        raise JobError("InvalidManifest", f"{manifest_path}: entries must be a non-empty list")
    entries: list[Entry] = []
    for number, item in enumerate(entries_doc):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url.strip():
            raise JobError("InvalidManifest", f"{manifest_path}: entries[{number}] has no 'url' string")
        mandatory = item.get("mandatory", True)
        if not isinstance(mandatory, bool):
            raise JobError(
                "InvalidManifest", f"{manifest_path}: entries[{number}].mandatory must be true/false"
            )
        location = normalise(url, base_dir)
        version_id = item.get("version_id")
        if version_id is not None and (
            not isinstance(version_id, str) or not version_id or not location.startswith("s3://")
        ):
            raise JobError(
                "InvalidManifest",
                f"{manifest_path}: entries[{number}].version_id must be a non-empty string on an s3:// entry",
            )
        entries.append(Entry(url=url, location=location, mandatory=mandatory, version_id=version_id))
    return tuple(entries)
