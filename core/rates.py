"""Rates as people write them: `600/min`, `20/s`, `10000/hour`, `100000/day`, or `off`.

Kept apart from core.ratelimit (which counts hits, in Redis or the database) so that
model validators can check a rate without importing the counting machinery.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

PERIODS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
PERIODS |= {"d": 86400, "day": 86400}
OFF = "off"
ZERO_RATE = (
    "'{text}' allows no request at all: to stop a tenant, block it "
    "(POST /api/admin/tenants/<id>/block); for no limit, use off."
)
_RATE_RE = re.compile(r"^\s*(\d{1,9})\s*/\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    seconds: int

    def __str__(self) -> str:
        unit = {1: "s", 60: "min", 3600: "hour", 86400: "day"}[self.seconds]
        return f"{self.limit}/{unit}"


@lru_cache(maxsize=256)  # read on every request; a handful of distinct texts
def parse_rate(text: str | None) -> Rate | None:
    """`"600/min"` → Rate(600, 60); `""`, None or `"off"` → None (no limit); else ValueError.
    A limit of 0 is refused too: it would answer 429 to every request, for ever, where
    what is meant is either blocking (a tenant's API off) or `off` (no limit)."""
    if text is None or not text.strip() or text.strip().lower() == OFF:
        return None
    match = _RATE_RE.match(text.lower())
    if match is None or match[2] not in PERIODS:
        raise ValueError(
            f"'{text}' is not a rate like 600/min, 20/s, 10000/hour or 100000/day (or off)."
        )
    if int(match[1]) == 0:
        raise ValueError(ZERO_RATE.format(text=text))
    return Rate(limit=int(match[1]), seconds=PERIODS[match[2]])
