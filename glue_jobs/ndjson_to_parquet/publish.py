"""Publishing: staged files move to where readers look only once every task has succeeded.

Quarantine first (also when the bad-record ratio is exceeded, so the operator sees why), then the Parquet files:
the files of this manifest replace exactly its previous files in the partition (a re-run never duplicates rows,
and other manifests' files of the same day are untouched). Staging lives under OUTPUT_PATH/_staging/<manifest
id>/<run id>/ and is removed whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .storage import Storage, join


def publish_replacing(
    storage: Storage, staged: list[str], target_dir: str, owned: Callable[[str], bool]
) -> list[str]:
    """Move the staged files into target_dir, then delete the files of this manifest that were not replaced."""
    previous = [path for path in storage.list_files(target_dir) if owned(path.rsplit("/", 1)[-1])]
    published = []
    for source in staged:
        target = join(target_dir, source.rsplit("/", 1)[-1])
        storage.move(source, target)
        published.append(target)
    for old in previous:
        if old not in published:
            storage.delete(old)
    return published


def owned_by(manifest_id: str) -> Callable[[str], bool]:
    """Whether a Parquet file name belongs to this manifest (`<manifest_id>.part-...parquet`)."""
    return lambda name: name.split(".part-", 1)[0] == manifest_id and name.endswith(".parquet")


def is_quarantine_file(name: str) -> bool:
    return name.startswith("bad-records.")


def cleanup_empty_staging(output: str, manifest_id: str) -> None:
    if output.startswith("s3://"):
        return  # S3 has no directories
    for directory in (Path(output) / "_staging" / manifest_id, Path(output) / "_staging"):
        try:
            directory.rmdir()
        except OSError:
            return
