"""Seeded generator of realistic NDJSON events (used by the benchmark, the demo and the tests).

Events look like product-analytics events: nested objects (`user`, `device`, `context`), arrays of objects
(`properties.items`) and of strings (`properties.tags`), nullable fields, ISO-8601 timestamps in UTC with
millisecond precision, integers, floats and booleans. The same `(count, seed, day, drift)` always yields the same
events, byte for byte.

`drift=True` models a producer upgrade: every event gains a top-level `experiment` object and
`properties.coupon` (a nullable string), which the converter must merge into the batch schema.

`write_drop` writes one NDJSON file (plain or gzip) and can interleave corrupt lines deterministically: truncated
JSON, bare strings, numbers, arrays, `null`, invalid UTF-8 and NUL bytes. A corrupt line is never blank, so every
line counted in `DropStats.lines` is a line the converter must account for.
"""

from __future__ import annotations

import datetime as dt
import gzip as gzip_module
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

EVENT_TYPES = (
    "page_view",
    "page_view",
    "page_view",
    "click",
    "click",
    "add_to_cart",
    "checkout",
    "purchase",
    "signup",
    "search",
)
PLANS = ("free", "free", "free", "pro", "team", "enterprise")
COUNTRIES = ("US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "NL", "ES", "IT", "SE")
LOCALES = ("en-US", "de-DE", "fr-FR", "en-GB", "hi-IN", "pt-BR", "ja-JP", "en-CA", "nl-NL", "es-ES")
OSES = (
    ("iOS", ("17.5", "18.0", "18.1")),
    ("Android", ("13", "14", "15")),
    ("macOS", ("14.6", "15.1")),
    ("Windows", ("10", "11")),
    ("Linux", ("6.1", "6.8")),
)
MODELS = ("iPhone15,2", "Pixel 8", "SM-S918B", "MacBookPro18,3", "Surface Laptop 5", "ThinkPad X1", None)
SCREENS = ((390, 844), (412, 915), (1440, 900), (1920, 1080), (2560, 1440))
PATHS = (
    "/",
    "/pricing",
    "/docs/getting-started",
    "/blog/parquet-vs-json",
    "/product/ndjson-pipeline",
    "/checkout",
    "/account/settings",
    "/search",
)
REFERRERS = ("https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/abc", None, None)
SKUS = tuple(f"SKU-{n:05d}" for n in range(0, 2000, 7))
TAGS = ("promo", "mobile", "returning", "beta", "newsletter", "b2b", "holiday")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
EXPERIMENTS = (("checkout-v2", ("control", "treatment")), ("pricing-page", ("a", "b", "c")))

#: Corrupt lines cycled through by `write_drop` (each one is non-blank and is not a JSON object).
CORRUPT_LINES: tuple[bytes, ...] = (
    b'{"event_id": "evt_truncated", "event_type": "click", "user": {"id": 4',  # truncated JSON
    b'"just a string"',  # bare string
    b"[1, 2, 3]",  # array at top level
    b"42",  # number at top level
    b"null",  # JSON null
    b"{not json at all}",  # garbage
    b'{"event_id": "evt_bad_utf8", "note": "\xff\xfe"}',  # invalid UTF-8
    b'{"event_id": "evt_nul", "note": "a\x00b"}',  # raw NUL byte inside a string
)


@dataclass(frozen=True)
class DropStats:
    """What `write_drop` wrote: non-blank lines, of which `bad_lines` are corrupt, and the file size."""

    lines: int
    bad_lines: int
    bytes: int

    @property
    def good_lines(self) -> int:
        return self.lines - self.bad_lines


def _iso_ms(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iter_events(count: int, *, seed: int, day: dt.date, drift: bool = False) -> Iterator[dict]:
    """Yield `count` events of `day` (UTC), deterministic for a given seed."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(seed)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    users = [rng.randrange(1, 10_000_000) for _ in range(max(50, count // 20 or 1))]
    for seq in range(count):
        occurred = start + dt.timedelta(milliseconds=rng.randrange(0, 86_400_000))
        received = occurred + dt.timedelta(milliseconds=rng.randrange(20, 5_000))
        event_type = rng.choice(EVENT_TYPES)
        os_name, os_versions = rng.choice(OSES)
        width, height = rng.choice(SCREENS)
        user_id = rng.choice(users)
        anonymous = rng.random() < 0.15
        items: list[dict] = []
        amount: float | None = None
        currency: str | None = None
        if event_type in ("add_to_cart", "checkout", "purchase"):
            for _ in range(rng.randrange(1, 5)):
                items.append(
                    {
                        "sku": rng.choice(SKUS),
                        "qty": rng.randrange(1, 4),
                        "price": round(rng.uniform(1.0, 250.0), 2),
                    }
                )
            amount = round(sum(item["qty"] * item["price"] for item in items), 2)
            currency = rng.choice(CURRENCIES)
        event: dict = {
            "event_id": f"evt_{rng.getrandbits(64):016x}",
            "event_type": event_type,
            "occurred_at": _iso_ms(occurred),
            "received_at": _iso_ms(received),
            "seq": seq,
            "user": {
                "id": None if anonymous else user_id,
                "anonymous_id": f"anon_{rng.getrandbits(40):010x}" if anonymous else None,
                "traits": {
                    "plan": rng.choice(PLANS),
                    "country": rng.choice(COUNTRIES),
                    "signup_at": None
                    if anonymous
                    else _iso_ms(start - dt.timedelta(days=rng.randrange(1, 900))),
                },
            },
            "device": {
                "os": os_name,
                "os_version": rng.choice(os_versions),
                "model": rng.choice(MODELS),
                "screen": {"width": width, "height": height},
            },
            "context": {
                "ip": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "locale": rng.choice(LOCALES),
                "user_agent": rng.choice(BROWSERS),
                "page": {
                    "path": rng.choice(PATHS),
                    "referrer": rng.choice(REFERRERS),
                    "load_ms": rng.randrange(80, 4_000),
                },
            },
            "properties": {
                "amount": amount,
                "currency": currency,
                "items": items,
                "tags": rng.sample(TAGS, rng.randrange(0, 3)),
                "query": f"parquet {rng.choice(TAGS)}" if event_type == "search" else None,
            },
            "is_test": rng.random() < 0.01,
        }
        if drift:
            name, variants = rng.choice(EXPERIMENTS)
            event["experiment"] = {
                "name": name,
                "variant": rng.choice(variants),
                "exposed_at": _iso_ms(occurred - dt.timedelta(seconds=rng.randrange(1, 600))),
            }
            event["properties"]["coupon"] = rng.choice(("WELCOME10", "BF2026", None, None))
        yield event


def write_drop(
    path: Path,
    count: int,
    *,
    seed: int,
    day: dt.date,
    dirty_every: int | None = None,
    gzip: bool = False,
    drift: bool = False,
) -> DropStats:
    """Write `count` events as NDJSON to `path` (gzip-compressed when `gzip`), return what was written.

    With `dirty_every=N`, one corrupt line (cycling through `CORRUPT_LINES`) follows every N-th event, so the file
    has `count + count // N` non-blank lines. Parent directories are created.
    """
    if dirty_every is not None and dirty_every < 1:
        raise ValueError(f"dirty_every must be >= 1 or None, got {dirty_every}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = bad = 0
    opener = gzip_module.open if gzip else open
    with opener(path, "wb") as out:
        buffer: list[bytes] = []
        for index, event in enumerate(iter_events(count, seed=seed, day=day, drift=drift), start=1):
            buffer.append(orjson.dumps(event))
            lines += 1
            if dirty_every and index % dirty_every == 0:
                buffer.append(CORRUPT_LINES[bad % len(CORRUPT_LINES)])
                bad += 1
                lines += 1
            if len(buffer) >= 4096:
                out.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")
    return DropStats(lines=lines, bad_lines=bad, bytes=path.stat().st_size)
