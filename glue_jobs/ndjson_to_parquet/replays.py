"""A date being replayed (`pipeline replay --date D`, Iceberg format): where the job commits that date's manifests.

While `<OUTPUT_PATH>/_replays/active/dt=<D>.json` exists, the job commits date D's manifests to the Iceberg branch
it names (`replay-<replay_id>`, created at the table's snapshot before the replay) instead of main: readers of
main keep the old data of D, unchanged, until the replay's swap moves the branch's files onto main in one
overwrite commit and deletes this marker, then the branch. The marker is
`{"replay_id": ..., "branch": ..., "snapshot_id": S0}`; the operator side (pipeline/ops/replay_iceberg.py) writes
and deletes it with the same encoding (encode / decode below).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import JobError
from .storage import Storage, join, normalise

ACTIVE_DIR = ("_replays", "active")
BRANCH_PREFIX = "replay-"


@dataclass(frozen=True)
class ReplayMarker:
    replay_id: str
    branch: str
    snapshot_id: int


def branch_name(replay_id: str) -> str:
    return f"{BRANCH_PREFIX}{replay_id}"


def marker_location(output_path: str, date_prefix: str) -> str:
    return join(normalise(output_path), *ACTIVE_DIR, f"dt={date_prefix}.json")


def encode(marker: ReplayMarker) -> bytes:
    document = {"replay_id": marker.replay_id, "branch": marker.branch, "snapshot_id": marker.snapshot_id}
    return json.dumps(document, sort_keys=True).encode()


def decode(data: bytes, where: str) -> ReplayMarker:
    try:
        document: Any = json.loads(data)
        return ReplayMarker(str(document["replay_id"]), str(document["branch"]), int(document["snapshot_id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise JobError(
            "ReplayMarkerInvalid",
            f"the replay marker {where} is not {{replay_id, branch, snapshot_id}} JSON ({exc}); run `pipeline "
            "replay` for that date again to rewrite it",
        ) from exc


def active_replay(storage: Storage, output_path: str, date_prefix: str) -> ReplayMarker | None:
    """The replay of `date_prefix` in progress (its marker), or None."""
    location = marker_location(output_path, date_prefix)
    try:
        data = storage.read_bytes(location)
    except FileNotFoundError:
        return None
    return decode(data, location)
