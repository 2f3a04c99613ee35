"""Locations: s3://, file:// and local paths through pyarrow.fs (works in the driver and in Spark tasks).

S3 client options are explicit: `Storage.from_env()` reads them from the driver's environment once, and the
`Storage` value travels inside every Spark task (a worker's environment may differ from the driver's). They are
the endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, e.g. a local S3) and the region; credentials always come
from the standard AWS chain (on Glue: the job role). No module state: two runs in one process cannot leak
options into each other (the boto3 clients are cached by their options only).

Object versions: pyarrow's S3 filesystem cannot read a given version of an object, so a manifest entry with a
`version_id` is read through boto3 (on Glue, no extra module): `Storage.pinned(location, version_id)` is a
`Storage` whose reads of that one location (`open_text`, `has_gzip_magic`, `read_bytes`) are ranged GETs of that
version (`VersionedObject`: `get_object(VersionId=..., Range=...)`, with the same endpoint and region as pyarrow's
client). Without a version id nothing changes: pyarrow reads the current content (an unversioned bucket).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import urllib.parse
from dataclasses import dataclass, replace
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
    # (location, version id): reads of that location read that object version (see `pinned`).
    pinned_version: tuple[str, str] | None = None

    @classmethod
    def from_env(cls) -> Storage:
        return cls(tuple(sorted(s3_options_from_env().items())))

    def pinned(self, location: str, version_id: str | None) -> Storage:
        """This storage, reading `location` at S3 object version `version_id` (itself when None)."""
        if version_id is None:
            return self
        if not location.startswith("s3://"):
            raise JobError("UnsupportedLocation", f"'{location}' has a version id but is not an s3:// URI")
        return replace(self, pinned_version=(location, version_id))

    def _versioned(self, location: str) -> VersionedObject | None:
        if self.pinned_version is None or self.pinned_version[0] != location:
            return None
        bucket, key = location[len("s3://") :].split("/", 1)
        return VersionedObject(s3_client(self.s3_options), bucket, key, self.pinned_version[1])

    def version_size(self, location: str, version_id: str) -> int | None:
        """The size of one version of an s3:// object; None when that version does not exist."""
        bucket, key = location[len("s3://") :].split("/", 1)
        return VersionedObject.head(s3_client(self.s3_options), bucket, key, version_id)

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
        versioned = self._versioned(location)
        if versioned is not None:
            with io.BufferedReader(versioned, READ_AHEAD) as stream:
                return stream.read()
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
        target_fs, target_path = self.fs(target)
        make_parent(target_fs, target_path)
        if source.startswith("s3://") == target.startswith("s3://"):
            source_fs.move(source_path, target_path)  # rename locally (atomic per file), copy + delete on S3
            return
        # between S3 and a local folder (e.g. an s3:// table with a local quarantine): copy, then delete
        pafs.copy_files(
            source_path, target_path, source_filesystem=source_fs, destination_filesystem=target_fs
        )
        source_fs.delete_file(source_path)

    def delete_dir(self, location: str) -> None:
        filesystem, path = self.fs(location)
        with contextlib.suppress(FileNotFoundError):
            filesystem.delete_dir(path)

    def has_gzip_magic(self, location: str) -> bool:
        versioned = self._versioned(location)
        if versioned is not None:
            with versioned:
                return versioned.read(2) == b"\x1f\x8b"
        filesystem, path = self.fs(location)
        with filesystem.open_input_stream(path, compression=None) as head:
            return head.read(2) == b"\x1f\x8b"

    def open_text(self, location: str, compressed: bool) -> Any:
        versioned = self._versioned(location)
        if versioned is not None:
            buffered = io.BufferedReader(versioned, READ_AHEAD)
            return gzip.GzipFile(fileobj=buffered, mode="rb") if compressed else buffered
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
            filesystem.open_output_stream(path, compression=None, buffer_size=OUTPUT_BUFFER) as sink,
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


READ_AHEAD = 8 << 20  # bytes a versioned read fetches per GET at least (gzip reads in small pieces)
# Buffered output of the staged pieces and Parquet files: a wide table's writers issue a small write per buffer
# or page (a 2,000-column IPC piece: 23.6 ms unbuffered, 11.1 ms with 1 MiB; docs/scaling.md, 'Fourth pass')
OUTPUT_BUFFER = 1 << 20
_MISSING = ("404", "NoSuchKey", "NoSuchVersion", "NotFound", "InvalidArgument", "400")


@functools.lru_cache(maxsize=8)
def s3_client(s3_options: S3Options) -> Any:
    """A boto3 S3 client with these options (endpoint, region, timeouts); credentials from the default chain."""
    import boto3
    from botocore.config import Config

    options = dict(s3_options)
    endpoint = options.get("endpoint_override")
    config = Config(
        region_name=options.get("region"),
        connect_timeout=float(options.get("connect_timeout", 60)),
        read_timeout=float(options.get("request_timeout", 60)),
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else None,
    )
    endpoint_url = f"{options.get('scheme', 'https')}://{endpoint}" if endpoint else None
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


class VersionedObject(io.RawIOBase):
    """One version of an S3 object as a seekable binary file: each read is a ranged, versioned GET (wrap it in
    `io.BufferedReader` to read ahead). S3 errors become OSError (FileNotFoundError when the version is gone),
    which the job reports as InputFileUnreadable / ManifestEntryMissing like pyarrow's."""

    def __init__(self, client: Any, bucket: str, key: str, version_id: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key, self._version = client, bucket, key, version_id
        self._size: int | None = None
        self._position = 0

    @property
    def name(self) -> str:
        return f"s3://{self._bucket}/{self._key}?versionId={self._version}"

    @staticmethod
    def head(client: Any, bucket: str, key: str, version_id: str) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(client.head_object(Bucket=bucket, Key=key, VersionId=version_id)["ContentLength"])
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise OSError(f"s3://{bucket}/{key} version {version_id}: {exc}") from exc
        except BotoCoreError as exc:
            raise OSError(f"s3://{bucket}/{key} version {version_id}: {exc}") from exc

    def size(self) -> int:
        if self._size is None:
            size = self.head(self._client, self._bucket, self._key, self._version)
            if size is None:
                raise FileNotFoundError(f"{self.name} does not exist")
            self._size = size
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size()}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        view = memoryview(buffer).cast("B")
        end = min(self.size(), self._position + len(view))
        if end <= self._position:
            return 0
        try:
            response = self._client.get_object(
                Bucket=self._bucket,
                Key=self._key,
                VersionId=self._version,
                Range=f"bytes={self._position}-{end - 1}",
            )
            data = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise OSError(f"cannot read {self.name}: {exc}") from exc
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


def make_parent(filesystem: pafs.FileSystem, path: str) -> None:
    """Create the parent directory of a local path (S3 has no directories: no marker objects are created)."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
