"""DynamoDB attribute values in and out: the one decoder of tracking items (the adapter's records and the
operator commands' plain dictionaries both read items through here), and the condition on a status built from
the transition tables of ``domain/states.py``."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_deserializer = TypeDeserializer()


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def get_s(item: dict[str, Any], name: str, default: str = "") -> str:
    return str(item[name]["S"]) if name in item else default


def get_n(item: dict[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (numbers as int when whole)."""
    result: dict[str, Any] = {}
    for name, value in item.items():
        python = _deserializer.deserialize(value)
        if hasattr(python, "as_integer_ratio") and not isinstance(python, bool | float | int):
            python = int(python) if python == int(python) else float(python)
        elif isinstance(python, set):
            python = sorted(python)
        result[name] = python
    return result


def status_in(sources: Iterable[StrEnum], order: Iterable[StrEnum]) -> tuple[str, dict[str, Any]]:
    """``#status = :x`` for one allowed source status, ``#status IN (:x, :y)`` for more (in ``order``, the
    enum's own order, so the expression is the same string on every run), and the values it names."""
    allowed = set(sources)
    names = [status for status in order if status in allowed]
    values = {f":{status.value}": s(status.value) for status in names}
    if len(names) == 1:
        return f"#status = :{names[0].value}", values
    return "#status IN (" + ", ".join(f":{status.value}" for status in names) + ")", values
