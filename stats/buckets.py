"""Calendar arithmetic for stats buckets: their keys, and every key of a range.

Pure Python (no database): the selectors aggregate in SQL, then fill the range
with the keys computed here. Keys: `YYYY-MM-DD` for day, week (the Monday) and
month (the 1st); the local ISO datetime with its offset for hour.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Literal
from zoneinfo import ZoneInfo

from core.ranges import MICROSECOND
from events.rollups import hour_split

Interval = Literal["hour", "day", "week", "month"]
INTERVALS: tuple[Interval, ...] = ("hour", "day", "week", "month")
MAX_BUCKETS = 10_000
# How far from an instant its bucket's start, or the next bucket's, may lie (an hour's
# next one may begin the next local day): what bucketing a range reads around it.
BUCKET_REACH: dict[Interval, dt.timedelta] = {
    "hour": dt.timedelta(days=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "month": dt.timedelta(days=31),
}


class TooManyBuckets(ValueError):
    """The range split by the interval gives more than MAX_BUCKETS buckets."""


def bucket_key(bucket: dt.date | dt.datetime, interval: Interval, tz: ZoneInfo) -> str:
    if interval == "hour":
        return bucket.astimezone(tz).isoformat()
    return bucket.isoformat()


def bucket_keys(
    lower: dt.datetime | None,
    upper: dt.datetime | None,
    interval: Interval,
    tz: ZoneInfo,
    found: list[str],
    *,
    now: dt.datetime | None = None,
) -> list[str]:
    """Every bucket key from the range's first to its last (the data's when open), and
    none that begins after `now` (default: the current time): the hours still to come
    today are not zeros yet. Buckets with data (`found`) are always listed."""
    if not found and (lower is None or upper is None):
        return []
    now = dt.datetime.now(dt.UTC) if now is None else now
    keys = list(_iter_keys(lower, upper, interval, tz, found, now))
    return sorted(set(keys) | set(found), key=key_sorter(tz))


def bucket_edges(
    lower: dt.datetime, upper: dt.datetime, interval: Interval, tz: ZoneInfo
) -> tuple[list[dt.datetime], list[str]]:
    """The buckets that cover [lower, upper): their edges (`lower`, every bucket start
    inside, `upper`) and each one's key. Raises TooManyBuckets."""
    edges, keys = [lower], []
    cursor = _bucket_start(lower, interval, tz)
    for _ in range(MAX_BUCKETS):
        keys.append(bucket_key(cursor if interval == "hour" else cursor.date(), interval, tz))
        cursor = _next_bucket(cursor, interval, tz)
        if _utc(cursor) >= upper:
            return [*edges, upper], keys
        edges.append(cursor)
    raise TooManyBuckets(
        f"More than {MAX_BUCKETS} {interval} buckets: narrow the range or use a larger interval."
    )


def _iter_keys(lower, upper, interval, tz, found, now) -> Iterator[str]:
    first = lower or min(_sort_instant(key, tz) for key in found)
    last = upper or max(_sort_instant(key, tz) for key in found) + dt.timedelta(seconds=1)
    last = min(last, now + MICROSECOND)  # the bucket holding now, no later
    step_hours = interval == "hour"
    cursor = _bucket_start(first, interval, tz)
    for _ in range(MAX_BUCKETS):
        if _utc(cursor) >= last:
            return
        yield bucket_key(cursor if step_hours else cursor.date(), interval, tz)
        cursor = _next_bucket(cursor, interval, tz)
    if _utc(cursor) < last:
        raise TooManyBuckets(
            f"More than {MAX_BUCKETS} {interval} buckets: narrow the range or use a larger "
            "interval."
        )


def recent_start(last: dt.date, interval: Interval) -> dt.date:
    """The first day of the MAX_BUCKETS buckets of `interval` that end with the one holding
    the day `last` (hours: whole days, 24 a day with room for daylight-saving ones); no
    earlier than the calendar's third day."""
    first = dt.date.min + dt.timedelta(days=2)
    if interval == "month":
        month = last.year * 12 + last.month - 1 - (MAX_BUCKETS - 1)
        return max(first, dt.date(month // 12, month % 12 + 1, 1)) if month >= 12 else first
    back = {
        "hour": dt.timedelta(days=MAX_BUCKETS // 24 - 1),
        "day": dt.timedelta(days=MAX_BUCKETS - 1),
        "week": dt.timedelta(days=last.weekday() + 7 * (MAX_BUCKETS - 1)),
    }[interval]
    return last - back if last - first > back else first


def key_of(instant: dt.datetime, interval: Interval, tz: ZoneInfo) -> str:
    """The key of the bucket that holds `instant`."""
    start = _bucket_start(instant, interval, tz)
    return bucket_key(start if interval == "hour" else start.date(), interval, tz)


def _bucket_start(instant: dt.datetime, interval: Interval, tz: ZoneInfo) -> dt.datetime:
    if interval == "hour":
        # As stats.selectors.time_bucket cuts in SQL: where every local hour begins at
        # one minute of the UTC hour, at that minute (the repeated hour of a fall-back
        # keeps its two offsets apart); elsewhere at the local wall clock's full hour.
        split = hour_split(tz)
        if split is not None:
            hour_tz = dt.timezone(-dt.timedelta(minutes=split))
            start = instant.astimezone(hour_tz).replace(minute=0, second=0, microsecond=0)
            return start.astimezone(tz)
        return instant.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    local = instant.astimezone(tz)
    day = local.date()
    if interval == "week":
        day -= dt.timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def _next_bucket(cursor: dt.datetime, interval: Interval, tz: ZoneInfo) -> dt.datetime:
    if interval == "hour":
        return _next_hour(cursor, tz)
    day = cursor.date()
    if interval == "day":
        day += dt.timedelta(days=1)
    elif interval == "week":
        day += dt.timedelta(days=7)
    else:
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def _next_hour(cursor: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The start of the local hour after the one that begins at `cursor`, cut back to its
    wall-clock hour as `key_of` cuts: an hour later in UTC (local wall-clock arithmetic
    would skip or repeat hours at DST) is not always the next hour's start where a
    zone's offset changes by part of an hour (Nepal's +05:30 to +05:45, Lord Howe's
    30-minute DST). Compared in UTC: aware datetimes of one zone compare by wall time."""
    current = cursor.astimezone(dt.UTC)
    probe = current + dt.timedelta(hours=1)
    following = probe.astimezone(tz)
    if following.utcoffset() == cursor.utcoffset():  # no change of offset: nearly always
        return following
    start = _bucket_start(probe, "hour", tz)
    while _utc(start) <= current:  # still this hour (Lord Howe's fall-back)
        probe += _QUARTER_HOUR
        start = _bucket_start(probe, "hour", tz)
    # A shorter hour may lie between (an offset moved forward): the earliest one after.
    before = _bucket_start(_utc(start) - MICROSECOND, "hour", tz)
    while current < _utc(before) < _utc(start):
        start, before = before, _bucket_start(_utc(before) - MICROSECOND, "hour", tz)
    return start


def _utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC)


_QUARTER_HOUR = dt.timedelta(minutes=15)


def key_sorter(tz: ZoneInfo):
    return lambda key: _sort_instant(key, tz)


def _sort_instant(key: str, tz: ZoneInfo) -> dt.datetime:
    if "T" in key:
        return dt.datetime.fromisoformat(key)
    return dt.datetime.combine(dt.date.fromisoformat(key), dt.time.min, tzinfo=tz)
