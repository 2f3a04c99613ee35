"""Render the Amazon States Language templates in ``state_machines/``.

The ASL files carry ``${name}`` placeholders that Terraform fills with ``templatefile``. This module performs
the same substitution for the plain-placeholder subset of Terraform's template syntax, so tests and the embedded
mode execute exactly the definition Terraform deploys:

- ``${name}`` is replaced by the value of ``name`` (strings verbatim, numbers and booleans as Terraform prints
  them); a name with no value is an error naming every missing placeholder;
- ``$${`` is Terraform's escape for a literal ``${`` and ``%%{`` for a literal ``%{``;
- any other template expression or directive (``${a.b}``, ``%{ if }``) is rejected: the definitions must not
  depend on Terraform-only logic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.contracts.errors import PipelineError

STATE_MACHINES_DIR = Path(__file__).resolve().parents[2] / "state_machines"
NDJSON_TO_PARQUET = STATE_MACHINES_DIR / "ndjson_to_parquet.asl.json"

# One lexeme at a time: the escapes first, then a placeholder, then any other interpolation/directive opener.
_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")

TemplateValue = str | int | float | bool


class AslTemplateError(PipelineError):
    """A template that cannot be rendered: missing values, unsupported syntax or a result that is not JSON."""


def placeholders(template: str) -> set[str]:
    """Names of the ``${name}`` placeholders used in ``template``."""
    names: set[str] = set()
    for match in _TOKEN.finditer(template):
        lexeme = match.group(0)
        if lexeme in ("$${", "%%{"):
            continue
        if lexeme == "%{":
            raise AslTemplateError(f"template directive at offset {match.start()} is not supported")
        name = match.group(1).strip()
        if not _IDENTIFIER.fullmatch(name):
            raise AslTemplateError(
                f"template expression ${{{match.group(1)}}} at offset {match.start()} is not a plain placeholder"
            )
        names.add(name)
    return names


def _format_value(name: str, value: object) -> str:
    # Terraform prints booleans as true/false and whole numbers without a fraction.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise AslTemplateError(
        f"placeholder {name!r} has a value of type {type(value).__name__}; use a string, number or boolean"
    )


def render(template: str, variables: Mapping[str, TemplateValue]) -> str:
    """Substitute every placeholder in ``template``; raise `AslTemplateError` naming any unfilled one."""
    missing = sorted(placeholders(template) - set(variables))
    if missing:
        raise AslTemplateError("no value for placeholder(s): " + ", ".join(missing))

    def substitute(match: re.Match[str]) -> str:
        lexeme = match.group(0)
        if lexeme == "$${":
            return "${"
        if lexeme == "%%{":
            return "%{"
        name = match.group(1).strip()
        return _format_value(name, variables[name])

    return _TOKEN.sub(substitute, template)


def render_file(path: Path, variables: Mapping[str, TemplateValue]) -> str:
    """Render the template at ``path``."""
    try:
        template = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AslTemplateError(f"cannot read ASL template {path}: {exc.strerror}") from exc
    try:
        return render(template, variables)
    except AslTemplateError as exc:
        raise AslTemplateError(f"{path.name}: {exc}") from exc


def load_definition(path: Path, variables: Mapping[str, TemplateValue]) -> dict[str, Any]:
    """Render the template at ``path`` and parse it, failing clearly if the result is not a JSON object."""
    text = render_file(path, variables)
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AslTemplateError(
            f"{path.name} rendered to invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
            "(a string value with quotes or backslashes needs escaping before it is substituted)"
        ) from exc
    if not isinstance(definition, dict):
        raise AslTemplateError(f"{path.name} rendered to JSON that is not an object")
    return definition
