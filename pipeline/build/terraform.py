"""Run one of the project's Terraform configurations against an endpoint, keeping everything in a work folder.

``terraform/`` is a module without a provider; a configuration that calls it is one of its examples:
``terraform/examples/embedded`` (the provider pointed at a local AWS emulator: its ``aws_endpoint_url`` variable,
handed to the provider as ``AWS_ENDPOINT_URL``) or ``terraform/examples/aws`` (an account). `TerraformRunner` is what
the tests and the embedded mode use to provision the stack: by default the embedded example, with dummy credentials,
so the emulator gets the same module a platform team applies to AWS. Nothing is written into the source tree:

- ``TF_DATA_DIR`` (providers, modules), the state (``-state``), the variables file and the CLI configuration live in
  the given work folder;
- ``init`` runs with ``-lockfile=readonly``: the example's committed ``.terraform.lock.hcl`` is used, never rewritten;
- providers come from the offline mirror (``/opt/tf-plugins`` by default) when it exists.

Every command's output is appended to a log file; a failure raises a `TerraformError` whose message ends with the
tail of that log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.contracts.errors import PipelineError

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "terraform"  # the module (no provider block)
EMBEDDED_EXAMPLE_DIR = TERRAFORM_DIR / "examples" / "embedded"  # what the embedded mode and the tests apply
AWS_EXAMPLE_DIR = TERRAFORM_DIR / "examples" / "aws"  # what docs/deploy.md copies for an account
EXAMPLE_DIRS = (AWS_EXAMPLE_DIR, EMBEDDED_EXAMPLE_DIR)
DEFAULT_PLUGIN_DIR = Path("/opt/tf-plugins")
DEFAULT_REGION = "us-east-1"
MIN_VERSION = (1, 9)

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

# Unset for a run against an emulator: a real profile, role, per-service endpoint (AWS_ENDPOINT_URL_<SERVICE> wins
# over AWS_ENDPOINT_URL) or the switch that ignores configured endpoints.
_REAL_AWS_SETTINGS = frozenset(
    {
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    }
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_VERSION = re.compile(r"Terraform v(\d+)\.(\d+)\.(\d+)")
_LOG_TAIL_LINES = 80


class TerraformError(PipelineError):
    """A Terraform command failed. `error_name` is stable; `log_tail` holds the end of Terraform's output."""

    error_name = "TerraformFailed"

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        super().__init__(f"{message}\n--- end of the Terraform log ---\n{log_tail}" if log_tail else message)


class TerraformNotFound(TerraformError):
    error_name = "TerraformNotFound"


class TerraformInitFailed(TerraformError):
    error_name = "TerraformInitFailed"


class TerraformApplyFailed(TerraformError):
    error_name = "TerraformApplyFailed"


class TerraformPlanFailed(TerraformError):
    error_name = "TerraformPlanFailed"


class TerraformDestroyFailed(TerraformError):
    error_name = "TerraformDestroyFailed"


class TerraformValidateFailed(TerraformError):
    error_name = "TerraformValidateFailed"


@dataclass(frozen=True)
class PlanResult:
    """Outcome of ``terraform plan -detailed-exitcode``: exit code 0 means no changes, 2 means changes."""

    exit_code: int
    output: str

    @property
    def has_changes(self) -> bool:
        return self.exit_code == 2


@dataclass(frozen=True)
class _Paths:
    workdir: Path

    @property
    def data_dir(self) -> Path:
        return self.workdir / "tf-data"

    @property
    def state(self) -> Path:
        return self.workdir / "terraform.tfstate"

    @property
    def var_file(self) -> Path:
        return self.workdir / "terraform.tfvars.json"

    @property
    def cli_config(self) -> Path:
        return self.workdir / "terraform.rc"


class TerraformRunner:
    """Applies, plans and destroys a configuration (``source_dir``, by default ``terraform/examples/embedded``) with
    all state in a work folder. Every configuration it runs declares ``aws_region``; one run against an endpoint also
    declares ``aws_endpoint_url``.

    ``log_file`` defaults to ``<workdir>/terraform.log``; ``timeout_seconds`` bounds each Terraform command.
    """

    def __init__(
        self,
        source_dir: Path = EMBEDDED_EXAMPLE_DIR,
        *,
        terraform_bin: str | None = None,
        plugin_dir: Path | None = DEFAULT_PLUGIN_DIR,
        log_file: Path | None = None,
        region: str = DEFAULT_REGION,
        timeout_seconds: float = 900.0,
        parallelism: int = 20,
    ) -> None:
        self.source_dir = Path(source_dir).resolve()
        self.terraform_bin = terraform_bin
        self.plugin_dir = plugin_dir
        self.log_file = log_file
        self.region = region
        self.timeout_seconds = timeout_seconds
        self.parallelism = parallelism
        self._version_checked = False
        self._initialised: set[Path] = set()  # work folders this runner has run `init` in

    # ------------------------------------------------------------------------------------------ public API

    def init(self, workdir: Path) -> None:
        """``init`` of the work folder, ahead of the first ``apply``/``plan``/``destroy`` (which then skip it).

        It needs neither the endpoint nor the variables (providers come from the mirror, modules are local), so
        the embedded mode runs it while the emulator starts and the artifacts are built."""
        paths = _Paths(Path(workdir).resolve())
        paths.workdir.mkdir(parents=True, exist_ok=True)
        self._check_version(paths)
        self._write_cli_config(paths)
        self._init(paths, None)

    def apply(self, endpoint_url: str | None, workdir: Path, variables: Mapping[str, Any]) -> dict[str, Any]:
        """``init`` + ``apply`` against ``endpoint_url`` (None: real AWS); returns the outputs as name -> value."""
        paths = self._prepare(endpoint_url, workdir, variables)
        self._run(
            ["apply", "-auto-approve", *self._plan_args(paths)],
            paths,
            endpoint_url,
            TerraformApplyFailed,
            "terraform apply failed",
        )
        return self.outputs(workdir, endpoint_url)

    def plan(
        self, endpoint_url: str | None, workdir: Path, variables: Mapping[str, Any], *, refresh: bool = True
    ) -> PlanResult:
        """``plan -detailed-exitcode``: `PlanResult.has_changes` tells whether an apply would change anything.

        ``refresh=False`` compares the configuration with the recorded state only (no reads of the live resources).
        """
        paths = self._prepare(endpoint_url, workdir, variables)
        code, output = self._run(
            ["plan", "-detailed-exitcode", *([] if refresh else ["-refresh=false"]), *self._plan_args(paths)],
            paths,
            endpoint_url,
            TerraformPlanFailed,
            "terraform plan failed",
            ok_codes=(0, 2),
        )
        return PlanResult(exit_code=code, output=output)

    def plan_json(
        self, endpoint_url: str | None, workdir: Path, variables: Mapping[str, Any], *, refresh: bool = True
    ) -> dict[str, Any]:
        """``plan -out`` then ``show -json`` of that plan: Terraform's JSON plan (``planned_values``,
        ``resource_changes``, ...) for checks of what an apply would create, without applying it."""
        paths = self._prepare(endpoint_url, workdir, variables)
        plan_file = paths.workdir / "plan.tfplan"
        self._run(
            ["plan", f"-out={plan_file}", *([] if refresh else ["-refresh=false"]), *self._plan_args(paths)],
            paths,
            endpoint_url,
            TerraformPlanFailed,
            "terraform plan failed",
        )
        _, text = self._run(
            ["show", "-json", str(plan_file)],
            paths,
            endpoint_url,
            TerraformPlanFailed,
            "terraform show failed",
            log_output=False,
        )
        try:
            plan: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TerraformPlanFailed(
                f"terraform show -json printed something that is not JSON: {exc}"
            ) from exc
        return plan

    def destroy(self, endpoint_url: str | None, workdir: Path, variables: Mapping[str, Any]) -> None:
        """``destroy`` everything recorded in the work folder's state."""
        paths = self._prepare(endpoint_url, workdir, variables)
        self._run(
            ["destroy", "-auto-approve", *self._plan_args(paths)],
            paths,
            endpoint_url,
            TerraformDestroyFailed,
            "terraform destroy failed",
        )

    def validate(self, workdir: Path) -> None:
        """``init`` + ``validate`` (no variables, no endpoint needed)."""
        paths = _Paths(Path(workdir).resolve())
        paths.workdir.mkdir(parents=True, exist_ok=True)
        self._check_version(paths)
        self._write_cli_config(paths)
        self._run(
            ["init", "-input=false", "-lockfile=readonly", "-backend=false"],
            paths,
            None,
            TerraformInitFailed,
            "terraform init failed",
        )
        self._run(["validate"], paths, None, TerraformValidateFailed, "terraform validate failed")

    def outputs(self, workdir: Path, endpoint_url: str | None = None) -> dict[str, Any]:
        """The outputs recorded in the work folder's state, as name -> value."""
        paths = _Paths(Path(workdir).resolve())
        _, text = self._run(
            ["output", "-json", f"-state={paths.state}"],
            paths,
            endpoint_url,
            TerraformError,
            "terraform output failed",
            log_output=False,
        )
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TerraformError(f"terraform output -json printed something that is not JSON: {exc}") from exc
        return {name: entry.get("value") for name, entry in raw.items()}

    def terraform_path(self) -> str:
        """Absolute path of the terraform binary, or `TerraformNotFound` with the fix."""
        candidate = self.terraform_bin or shutil.which("terraform")
        if not candidate or not Path(candidate).exists():
            raise TerraformNotFound(
                "terraform is not installed or not on PATH. Install Terraform >= 1.9 "
                "(https://developer.hashicorp.com/terraform/install) or pass its path as terraform_bin."
            )
        return str(candidate)

    # ------------------------------------------------------------------------------------------- internals

    def _prepare(self, endpoint_url: str | None, workdir: Path, variables: Mapping[str, Any]) -> _Paths:
        paths = _Paths(Path(workdir).resolve())
        paths.workdir.mkdir(parents=True, exist_ok=True)
        self._check_version(paths)
        all_variables = {**dict(variables), "aws_region": variables.get("aws_region", self.region)}
        if endpoint_url is not None:
            all_variables["aws_endpoint_url"] = endpoint_url.rstrip("/")
        paths.var_file.write_text(json.dumps(all_variables, indent=2, default=str) + "\n", encoding="utf-8")
        self._write_cli_config(paths)
        if paths.workdir not in self._initialised:
            self._init(paths, endpoint_url)
        return paths

    def _init(self, paths: _Paths, endpoint_url: str | None) -> None:
        """One ``init`` per work folder and runner: the source folder and the provider mirror do not change
        under a runner, so a second one would only cost its seconds."""
        self._run(
            ["init", "-input=false", "-lockfile=readonly"],
            paths,
            endpoint_url,
            TerraformInitFailed,
            "terraform init failed",
        )
        self._initialised.add(paths.workdir)

    def _plan_args(self, paths: _Paths) -> list[str]:
        return [
            "-input=false",
            f"-state={paths.state}",
            f"-var-file={paths.var_file}",
            f"-parallelism={self.parallelism}",
        ]

    def _write_cli_config(self, paths: _Paths) -> None:
        if self.plugin_dir is not None and Path(self.plugin_dir).is_dir():
            config = (
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{Path(self.plugin_dir).resolve()}"\n'
                '    include = ["registry.terraform.io/*/*"]\n  }\n'
                '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n'
                "}\n"
            )
        else:
            config = "# providers are installed from their registries\n"
        paths.cli_config.write_text(config, encoding="utf-8")

    def _environment(self, paths: _Paths, endpoint_url: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TF_VAR_")}
        env.update(
            TF_DATA_DIR=str(paths.data_dir),
            TF_CLI_CONFIG_FILE=str(paths.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
        )
        if endpoint_url is not None:
            # An emulator: never let a real profile, role or endpoint setting leak into the run.
            for key in list(env):
                if key in _REAL_AWS_SETTINGS or key.startswith("AWS_ENDPOINT_URL_"):
                    env.pop(key)
            env.update(DUMMY_CREDENTIALS)
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = self.region
            # The embedded example's provider reaches the emulator through the SDK's global endpoint setting (an
            # `endpoints {}` block costs seconds of provider validation per walk: its providers.tf).
            env["AWS_ENDPOINT_URL"] = endpoint_url.rstrip("/")
        return env

    def _log_path(self, paths: _Paths) -> Path:
        return self.log_file if self.log_file is not None else paths.workdir / "terraform.log"

    def _check_version(self, paths: _Paths) -> None:
        if self._version_checked:
            return
        binary = self.terraform_path()
        try:
            result = subprocess.run(
                [binary, "version"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=self._environment(paths, None),
            )
        except OSError as exc:
            raise TerraformNotFound(
                f"cannot run {binary}: {exc.strerror}. Reinstall Terraform >= 1.9."
            ) from exc
        match = _VERSION.search(result.stdout)
        if not match:
            raise TerraformNotFound(
                f"{binary} does not look like Terraform (`terraform version` printed "
                f"{result.stdout.strip()[:200]!r}). Install Terraform >= 1.9."
            )
        found = (int(match.group(1)), int(match.group(2)))
        if found < MIN_VERSION:
            raise TerraformNotFound(
                f"Terraform {'.'.join(match.groups())} is too old: the stack needs >= "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} (cross-variable validations). Upgrade Terraform."
            )
        self._version_checked = True

    def _run(
        self,
        args: Sequence[str],
        paths: _Paths,
        endpoint_url: str | None,
        error: type[TerraformError],
        message: str,
        *,
        ok_codes: Sequence[int] = (0,),
        log_output: bool = True,
    ) -> tuple[int, str]:
        command = [self.terraform_path(), f"-chdir={self.source_dir}", *args, "-no-color"]
        log_path = self._log_path(paths)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = self._environment(paths, endpoint_url)
        started = time.monotonic()
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n===== terraform {args[0]} ({time.strftime('%Y-%m-%d %H:%M:%S')}) =====\n")
            log.flush()
            offset = log.tell()
            try:
                # Streamed to the log as it runs (tail -f it during a long apply); output -json is captured.
                result = subprocess.run(
                    command,
                    stdout=log if log_output else subprocess.PIPE,
                    stderr=subprocess.STDOUT if log_output else subprocess.PIPE,
                    text=True,
                    timeout=self.timeout_seconds,
                    check=False,
                    env=env,
                    cwd=paths.workdir,
                )
            except subprocess.TimeoutExpired as exc:
                log.write(f"===== timed out after {self.timeout_seconds:.0f} s =====\n")
                log.flush()
                tail = _tail(_read_from(log_path, offset))
                raise error(
                    f"{message}: terraform {args[0]} did not finish within {self.timeout_seconds:.0f} s; "
                    f"full log: {log_path}",
                    tail,
                ) from exc
            if not log_output and result.stderr:
                log.write(result.stderr)
            log.write(f"===== exit {result.returncode} after {time.monotonic() - started:.1f} s =====\n")
        output = _read_from(log_path, offset) if log_output else _ANSI.sub("", result.stderr or "")
        if result.returncode not in ok_codes:
            raise error(f"{message} (exit code {result.returncode}); full log: {log_path}", _tail(output))
        return result.returncode, output if log_output else _ANSI.sub("", result.stdout)


def _read_from(path: Path, offset: int) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        return _ANSI.sub("", log.read())


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _tail(output: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(_ANSI.sub("", output).rstrip().splitlines()[-lines:])
