"""Where an embedded run keeps its things (`WorkLayout`: the work folder) and what the applied stack says about
itself (`StackOutputs`: the Terraform outputs the embedded runtime reads, names as documented in docs/deploy.md)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from pipeline.contracts.errors import PipelineError


class _Folder:
    """A folder of the work folder, read like a read-only property: `layout.lake` is `layout.root / "lake"`."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    @overload
    def __get__(self, layout: None, owner: type) -> _Folder: ...

    @overload
    def __get__(self, layout: WorkLayout, owner: type) -> Path: ...

    def __get__(self, layout: WorkLayout | None, owner: type) -> Path | _Folder:
        return self if layout is None else layout.root.joinpath(*self.parts)

    def __set__(self, layout: WorkLayout, value: object) -> None:
        raise AttributeError("a work folder's folders follow its root")


class _Output:
    """A Terraform output of the stack, read like a read-only property under the first of its names that is set."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def __set__(self, outputs: StackOutputs, value: object) -> None:
        raise AttributeError("the stack outputs are what Terraform returned")


class _Required(_Output):
    """An output the runtime cannot do without (`TerraformOutputMissing` when absent)."""

    @overload
    def __get__(self, outputs: None, owner: type) -> _Required: ...

    @overload
    def __get__(self, outputs: StackOutputs, owner: type) -> str: ...

    def __get__(self, outputs: StackOutputs | None, owner: type) -> str | _Required:
        return self if outputs is None else str(outputs.require(*self.names))


class _Optional(_Output):
    """An output the runtime does without (None when absent)."""

    @overload
    def __get__(self, outputs: None, owner: type) -> _Optional: ...

    @overload
    def __get__(self, outputs: StackOutputs, owner: type) -> str | None: ...

    def __get__(self, outputs: StackOutputs | None, owner: type) -> str | _Optional | None:
        if outputs is None:
            return self
        value = outputs.get(*self.names)
        return str(value) if value else None


CREATED_RECORD = (
    ".pipeline-created.json"  # the folders of the work folder the commands made (only those are removed)
)
CLEANABLE = (
    "lake",
    "quarantine",
    "staging",
    "input",
    "logs",
)  # what `--clean` empties, of what the commands made


@dataclass
class WorkLayout:
    """Folders of a work folder. Terraform's state and the logs are per run; the lake holds the last run's table.

    The commands remove only what they made: each folder they create is written to `.pipeline-created.json` in the
    work folder, and `--clean` (or a new run replacing the previous run's table) removes only folders listed there.
    A folder the user made, even one the commands write into, is never deleted.
    """

    root: Path

    lake = _Folder("lake")
    quarantine = _Folder("quarantine")
    reports = _Folder("lake", "_reports")
    logs = _Folder("logs")
    terraform = _Folder("terraform")
    staging = _Folder("staging")
    build = _Folder("build")
    input = _Folder("input")

    @property
    def record_file(self) -> Path:
        return self.root / CREATED_RECORD

    def created(self) -> set[str]:
        """The folders (names relative to the root) the commands made in this work folder."""
        try:
            data = json.loads(self.record_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        folders = data.get("folders", []) if isinstance(data, dict) else []
        return {str(name) for name in folders}

    def _remember(self, name: str) -> None:
        folders = self.created() | {name}
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.record_file.with_name(self.record_file.name + ".part")
        partial.write_text(json.dumps({"folders": sorted(folders)}, indent=2) + "\n", encoding="utf-8")
        partial.replace(self.record_file)

    def make(self, folder: Path) -> Path:
        """Create `folder` (a folder of the root) if missing, and remember that the command made it."""
        if not folder.exists():
            folder.mkdir(parents=True)
            self._remember(folder.relative_to(self.root).as_posix())
        return folder

    def ours(self, folder: Path) -> bool:
        return folder.relative_to(self.root).as_posix() in self.created()

    def remove_if_ours(self, folder: Path) -> bool:
        """Delete `folder` if the commands made it (it is listed in the record); a user's folder stays."""
        if folder.exists() and self.ours(folder):
            shutil.rmtree(folder)
            return True
        return False

    def check_input_spared(self, input_dir: Path, clean: bool) -> None:
        """Refuse a `--clean` run whose `--input` lies inside a folder `--clean` empties (exit 2, nothing started)."""
        if not clean:
            return
        source = input_dir.resolve()
        for name in CLEANABLE:
            folder = self.root / name
            if source == folder or folder in source.parents:
                raise PipelineError.named(
                    "InputInsideCleanedFolder",
                    f"--input {source} lies inside {folder}, a folder of the work folder {self.root} that "
                    "--clean empties.",
                    f"Move the input folder out of {folder} (e.g. next to the work folder), or run without --clean.",
                    exit_code=2,
                )

    def has_table(self) -> bool:
        """Whether the lake holds a previous run's table (any file but the mirror's dot files)."""
        lake = self.lake
        return lake.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in lake.rglob("*"))

    def prepare(self, clean: bool) -> bool:
        """Make the folders of a run; `clean`: first remove those of CLEANABLE the commands made. The previous
        run's table is replaced: the lake and quarantine are removed when the commands made them (a user's own
        lake folder stays; the Iceberg mirror then removes only the files it downloaded). Returns whether the lake
        held a previous run's table."""
        self.root.mkdir(parents=True, exist_ok=True)
        if clean:
            for name in CLEANABLE:
                self.remove_if_ours(self.root / name)
        previous = self.has_table()
        self.remove_if_ours(self.lake)
        self.remove_if_ours(self.quarantine)
        for folder in (self.lake, self.quarantine, self.logs, self.terraform, self.build, self.staging):
            self.make(folder)
        # A previous run's embedded AWS is gone with its process: its Terraform state describes nothing.
        for name in ("terraform.tfstate", "terraform.tfstate.backup"):
            (self.terraform / name).unlink(missing_ok=True)
        if self.remove_if_ours(self.staging):
            self.make(self.staging)
        return previous


@dataclass
class StackOutputs:
    """The Terraform outputs the embedded runtime needs (names as documented in docs/deploy.md)."""

    raw: dict[str, Any]

    input_bucket = _Required("input_bucket_name", "input_bucket")
    tracking_table = _Required("tracking_table_name", "tracking_table")
    manifest_builder_function = _Required(
        "manifest_builder_function_name", "lambda_function_name", "function_name"
    )
    state_machine_arn = _Required("state_machine_arn")
    glue_job_name = _Required("glue_job_name")
    output_path = _Required("output_path", "output_s3_path")
    bad_records_path = _Required("bad_records_path", "bad_records_s3_path", "quarantine_path")
    dlq_url = _Optional("ingest_dlq_url", "dlq_url", "ingest_dead_letter_queue_url")
    queue_url = _Optional("ingest_queue_url", "queue_url")

    def get(self, *names: str, default: Any = None) -> Any:
        for name in names:
            value = self.raw.get(name)
            if isinstance(value, dict) and "value" in value:
                value = value["value"]
            if value not in (None, ""):
                return value
        return default

    def require(self, *names: str) -> Any:
        value = self.get(*names)
        if value is None:
            raise PipelineError.named(
                "TerraformOutputMissing",
                f"The Terraform stack has no output named {' or '.join(names)}.",
                "Check terraform/examples/embedded/outputs.tf against docs/deploy.md.",
            )
        return value

    @property
    def input_prefix(self) -> str:
        prefix = str(self.get("input_prefix", default="") or "")
        return prefix if not prefix or prefix.endswith("/") else prefix + "/"

    @property
    def function_names(self) -> list[str]:
        names = [self.manifest_builder_function]
        extra = self.get("status_updater_function_name", "batch_status_updater_function_name")
        if extra and extra not in names:
            names.append(str(extra))
        return names

    @property
    def compression_type(self) -> str:
        return str(self.get("compression_type", default=""))

    @property
    def table_name(self) -> str:
        return str(self.get("table_name", "glue_table_name", default="events"))
