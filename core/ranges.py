"""Half-open ranges `[start, end)` as one ORM condition, the only way the project
writes "from start, before end" on an instant or date field; the UTC hour an instant
falls in, the grain of the counters and the user sketches; and the one check that a
range, with what a computation reads around it, stays within the calendar."""

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.db.models import Q

# The finest step of an instant: `end - MICROSECOND` is the last one of a half-open range.
MICROSECOND = dt.timedelta(microseconds=1)
NOTHING = dt.timedelta(0)
# The calendar is datetime's: from 0001-01-01 to 9999-12-31, UTC.
_FIRST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LAST = dt.datetime.max.replace(tzinfo=dt.UTC) - _FIRST


class OutOfCalendar(ValueError):
    """A range that `within_calendar` refuses; `side` names the bound to move."""

    def __init__(self, side: Literal["start", "end"], reach: dt.timedelta) -> None:
        self.side = side
        around = f" once the {reach.days} days read {'before' if side == 'start' else 'after'}"
        self.message = "Is out of the calendar's range (0001-01-01 to 9999-12-31)" + (
            f"{around} it are added." if reach.days else "."
        )
        super().__init__(self.message)


def within_calendar(
    *,
    lower: dt.datetime | None,
    upper: dt.datetime | None,
    tz: ZoneInfo,
    before: dt.timedelta = NOTHING,
    after: dt.timedelta = NOTHING,
) -> None:
    """Raise OutOfCalendar unless the local days (in `tz`) of `lower - before` and of
    `upper + after` lie in the calendar, their midnights included: every computation
    that reads `before` ahead of a range or `after` past it (a window, a previous
    period, a week's Monday) may then shift, bucket and print its instants. Aware
    bounds; None is an open side."""
    if lower is not None and not _day_within(_position(lower) - before, tz):
        raise OutOfCalendar("start", before)
    if upper is not None and not _day_within(_position(upper) + after, tz):
        raise OutOfCalendar("end", after)


def _position(instant: dt.datetime) -> dt.timedelta:
    """How far the aware `instant` lies past the calendar's first instant (UTC): a
    timedelta, which may go past either end without overflowing."""
    return instant - _FIRST  # computed from the fields and offsets: no datetime made


def _day_within(position: dt.timedelta, tz: ZoneInfo) -> bool:
    if not NOTHING <= position <= _LAST:
        return False
    instant = _FIRST + position
    try:  # the local day, then its midnight back in UTC: either may leave the calendar
        day = instant.astimezone(tz).date()
        dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


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
