"""Half-open ranges `[start, end)` as one ORM condition, the only way the project
writes "from start, before end" on an instant or date field; and the UTC hour an
instant falls in, the grain of the counters and the user sketches."""

import datetime as dt
from typing import Any

from django.db.models import Q

# The finest step of an instant: `end - MICROSECOND` is the last one of a half-open range.
MICROSECOND = dt.timedelta(microseconds=1)


def half_open(field: str, start: Any | None, end: Any | None) -> Q:
    """`start <= field < end`; a None bound leaves that side open (both None: no filter)."""
    condition = Q()
    if start is not None:
        condition &= Q(**{f"{field}__gte": start})
    if end is not None:
        condition &= Q(**{f"{field}__lt": end})
    return condition


def utc_hour(instant: dt.datetime) -> dt.datetime:
    """The start of the UTC hour that holds `instant` (aware)."""
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
