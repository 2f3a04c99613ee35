"""The kinds of item the tracking table holds and their sort keys (pure; docs/tracking-table.md).

One partition per date (``date_prefix``); the sort key ``file_key`` tells the kind of item by its prefix. Every
module that builds or recognises a sort key (the adapter, the operator commands, the invariant checker, the
embedded run's verifier) takes the prefixes from here, so a new kind of item is added in one place.
"""

from __future__ import annotations

FILE_KEY_PREFIX = "F#"  # one per tracked object content: F#<bucket>/<key>#<etag>
MANIFEST_KEY_PREFIX = "MANIFEST#"  # one per started manifest, written after its execution started
CLAIM_KEY_PREFIX = "CLAIM#"  # the intent record of a claim in progress (crash repair reads these)
REPLAY_KEY_PREFIX = "REPLAY#"  # one per `pipeline replay` of the date, its progress step by step
COUNTER_KEY = "META#PENDING"  # the date's pending-files counter (a hint, corrected from the pending index)
LEASE_KEY = "META#LEASE"  # the date's batching lease


def manifest_item_key(manifest_id: str) -> str:
    return f"{MANIFEST_KEY_PREFIX}{manifest_id}"


def claim_item_key(manifest_id: str) -> str:
    return f"{CLAIM_KEY_PREFIX}{manifest_id}"


def replay_item_key(replay_id: str) -> str:
    return f"{REPLAY_KEY_PREFIX}{replay_id}"


def id_of(file_key: str) -> str:
    """The id after a MANIFEST#, CLAIM# or REPLAY# prefix (the whole tail after the first ``#``)."""
    return file_key.split("#", 1)[1]
