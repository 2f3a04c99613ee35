"""The one set of time helpers: every timestamp the tracking table holds is UTC ISO-8601 with microseconds and a
``Z`` (``iso``), so that strings sort as times do (the pending index and the claim cutoff rely on that)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_now() -> str:
    return iso(utc_now())


def parse_iso(value: str) -> datetime:
    """A timestamp the control plane wrote (raises on anything else)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_time(text: str | None) -> datetime | None:
    """A timestamp read back by an operator: None when missing or unreadable, naive means UTC."""
    if not text:
        return None
    try:
        value = parse_iso(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def age_seconds(text: str | None, now: datetime) -> float | None:
    moment = parse_time(text)
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def expires_at(moment: datetime, days: int) -> int:
    """The ``ttl`` attribute of an item written at ``moment``: epoch seconds ``days`` later."""
    return int((moment + timedelta(days=days)).timestamp())


# A claimed file keeps the TTL its claim wrote until a replay or retry writes it again (completion by reference:
# the status update writes no file). The claim adds this margin to TTL_DAYS so that the file item outlives its
# MANIFEST item (final status + TTL_DAYS) whenever the execution ends within its timeout: Terraform allows at most
# 3 x glue_timeout_minutes (2,880) = 6 days (docs/tracking-table.md, "TTL").
CLAIM_TTL_MARGIN_DAYS = 7


def claim_expires_at(moment: datetime, ttl_days: int) -> int:
    """The ``ttl`` of a file item claimed (or requeued by `pipeline retry`) at ``moment``: TTL_DAYS plus the margin."""
    return expires_at(moment, ttl_days + CLAIM_TTL_MARGIN_DAYS)
