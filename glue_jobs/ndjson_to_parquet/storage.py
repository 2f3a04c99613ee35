"""Locations: s3://, file:// and local paths through pyarrow.fs (works in the driver and in Spark tasks).

S3 client options are explicit: `Storage.from_env()` reads them from the driver's environment once, and the
`Storage` value travels inside every Spark task (a worker's environment may differ from the driver's). They are
the endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, e.g. a local S3) and the region; credentials always come
from the standard AWS chain (on Glue: the job role). No module state: two runs in one process cannot leak
options into each other.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as paipc

from .errors import JobError

S3Options = tuple[tuple[str, str], ...]
_S3_SECONDS = (
    "request_timeout",
    "connect_timeout",
)  # shipped to the tasks as text, given to pyarrow as numbers


def join(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def normalise(url: str, base_dir: str | None = None) -> str:
    """s3a:// and s3n:// -> s3://, file:// -> absolute path, relative paths -> absolute (against base_dir)."""
    if url.startswith(("s3a://", "s3n://")):
        return "s3://" + url.split("://", 1)[1]
    if url.startswith("s3://"):
        return url
    if url.startswith("file://"):
        return urllib.parse.unquote(urllib.parse.urlparse(url).path)
    if "://" in url:
        raise JobError(
            "UnsupportedLocation", f"'{url}' is neither an s3:// URI, a file:// URI nor a local path"
        )
    path = Path(url)
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    return os.path.normpath(str(path))


def s3_options_from_env() -> dict[str, str]:
    options: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urllib.parse.urlparse(endpoint)
        options["endpoint_override"] = parsed.netloc or parsed.path
        options["scheme"] = parsed.scheme or "https"
        # An S3-compatible endpoint (the embedded moto server, MinIO) can be far slower to answer than S3: the
        # SDK's default timeouts are too short for it (docs/scaling.md).
        options["request_timeout"] = "30"
        options["connect_timeout"] = "10"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return options


@dataclass(frozen=True)
class Storage:
    """File access with these S3 options (empty: pyarrow's defaults, as `FileSystem.from_uri` resolves them)."""

    s3_options: S3Options = ()

    @classmethod
    def from_env(cls) -> Storage:
        return cls(tuple(sorted(s3_options_from_env().items())))

    def fs(self, location: str) -> tuple[pafs.FileSystem, str]:
        if location.startswith("s3://"):
            if self.s3_options:
                options: dict[str, Any] = {
                    key: float(value) if key in _S3_SECONDS else value for key, value in self.s3_options
                }
                return pafs.S3FileSystem(**options), location[len("s3://") :]
            filesystem, path = pafs.FileSystem.from_uri(location)
            return filesystem, path
        return pafs.LocalFileSystem(), location

    def read_bytes(self, location: str) -> bytes:
        filesystem, path = self.fs(location)
        with filesystem.open_input_stream(path, compression=None) as stream:
            return stream.read()

    def write_bytes(self, location: str, data: bytes) -> None:
        filesystem, path = self.fs(location)
        make_parent(filesystem, path)
        with filesystem.open_output_stream(path, compression=None) as sink:
            sink.write(data)

    def list_files(self, location: str) -> list[str]:
        filesystem, path = self.fs(location)
        infos = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
        prefix = location[: len(location) - len(path)] if location.startswith("s3://") else ""
        return [prefix + info.path for info in infos if info.type == pafs.FileType.File]

    def delete(self, location: str) -> None:
        filesystem, path = self.fs(location)
        filesystem.delete_file(path)

    def move(self, source: str, target: str) -> None:
        source_fs, source_path = self.fs(source)
        _, target_path = self.fs(target)
        make_parent(source_fs, target_path)
        source_fs.move(source_path, target_path)  # rename locally (atomic per file), copy + delete on S3

    def delete_dir(self, location: str) -> None:
        filesystem, path = self.fs(location)
        with contextlib.suppress(FileNotFoundError):
            filesystem.delete_dir(path)

    def has_gzip_magic(self, location: str) -> bool:
        filesystem, path = self.fs(location)
        with filesystem.open_input_stream(path, compression=None) as head:
            return head.read(2) == b"\x1f\x8b"

    def open_text(self, location: str, compressed: bool) -> Any:
        filesystem, path = self.fs(location)
        raw = (
            filesystem.open_input_file(path)
            if not compressed
            else filesystem.open_input_stream(path, compression=None)
        )
        if compressed:
            return gzip.GzipFile(fileobj=raw, mode="rb")  # handles multi-member gzip, unlike Arrow's stream
        return raw

    def write_ipc(self, location: str, table: pa.Table) -> None:
        filesystem, path = self.fs(location)
        make_parent(filesystem, path)
        with (
            filesystem.open_output_stream(path, compression=None) as sink,
            paipc.new_file(sink, table.schema) as writer,
        ):
            writer.write_table(table)

    def read_ipc(self, location: str) -> pa.Table:
        if not location.startswith("s3://"):
            with pa.memory_map(location) as source:
                return paipc.open_file(source).read_all()
        filesystem, path = self.fs(location)
        with filesystem.open_input_file(path) as source:
            return paipc.open_file(source).read_all()


def make_parent(filesystem: pafs.FileSystem, path: str) -> None:
    """Create the parent directory of a local path (S3 has no directories: no marker objects are created)."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
