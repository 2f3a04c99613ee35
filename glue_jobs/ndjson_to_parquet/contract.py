"""The schema contract of a table: how a batch's schema is reconciled with the table's, by Iceberg's rules.

(Interface fixed for issue 13; the body is being written on branch wt-contract.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Evolution:
    """The target data schema of a run and what it changes in the contract."""

    schema: pa.Schema  # contract columns (contract order, contract types, promoted), then new ones
    added: list[str] = field(default_factory=list)  # display paths of new columns / struct fields
    promoted: list[dict[str, str]] = field(default_factory=list)  # {"field", "from", "to"}
    contract_columns: frozenset[str] = frozenset()  # top-level names (as spelled in the contract)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.promoted)


def evolve(contract: pa.Schema | None, batch: pa.Schema) -> Evolution:
    """The contract evolved by the batch (see docs/table-format.md)."""
    raise NotImplementedError


def diff(contract: pa.Schema | None, batch: pa.Schema) -> list[dict[str, Any]]:
    raise NotImplementedError
