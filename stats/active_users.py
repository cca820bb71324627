"""Active users over rolling windows (DAU, WAU, MAU, any window of days), exact.

A user is active on a day (in the zone asked) when they sent an event that day; the
count of day d over a window of W days is the number of users active on any of the
days (d - W, d]. One statement answers every window at once: from each user's distinct
active days a₁ < a₂ < …, each day aᵢ opens the user's coverage (+1) and closes it
(-1) at min(aᵢ + W, aᵢ₊₁) — the intervals are disjoint and cover exactly the days the
user counts on — so the database counts the active days by day and gap to the next,
and a running sum of the opens and closes over the days gives the counts. Distinct
users are never summed from smaller counts.
"""

import datetime as dt
from collections import defaultdict
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Max, Min, QuerySet
from django.db.models.functions import TruncDate

from core.ranges import half_open
from events.models import EventLog
from stats.buckets import MAX_BUCKETS, TooManyBuckets
from stats.selectors import day_range_bounds

WINDOWS = {"dau": 1, "wau": 7, "mau": 30}
MAX_WINDOW = 90
EPOCH = dt.date(1970, 1, 1)
# The day number (days since 1970-01-01) of the pairs' `day` column, per database.
DAY_NUMBER = {
    "postgresql": """("day" - DATE '1970-01-01')""",
    "sqlite": 'CAST(julianday("day") - 2440587.5 AS INTEGER)',
}


class ActiveUsers(TypedDict):
    date: str
    active_users: int  # over the window asked
    dau: int
    wau: int
    mau: int
    stickiness: float | None  # dau / mau, None when mau is 0


def active_users(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    window: int = 1,
    event_name: str | None = None,
) -> list[ActiveUsers]:
    """One row per day of [start, end] (of the data, where open). Raises TooManyBuckets
    for more than MAX_BUCKETS days."""
    users = logs.exclude(distinct_id="").order_by()
    if event_name is not None:
        users = users.filter(event__name=event_name)
    first, last = _days(users, start, end, tz)
    if first is None or last is None or last < first:
        return []
    if (last - first).days >= MAX_BUCKETS:
        raise TooManyBuckets(f"More than {MAX_BUCKETS} days: narrow the range.")
    windows = {**WINDOWS, "active_users": window}
    widest = max(windows.values())
    lower, upper = day_range_bounds(start=first - dt.timedelta(days=widest - 1), end=last, tz=tz)
    pairs = (
        users.filter(half_open("timestamp", lower, upper))
        .annotate(day=TruncDate("timestamp", tzinfo=tz))
        .values("distinct_id", "day")
        .distinct()
    )
    changes = _changes(pairs, windows)
    counts = dict.fromkeys(windows, 0)
    rows: list[ActiveUsers] = []
    number = min([*changes, _number(first)])
    while number <= _number(last):
        for name, change in changes.get(number, {}).items():
            counts[name] += change
        if number >= _number(first):
            rows.append(
                {
                    "date": (EPOCH + dt.timedelta(days=number)).isoformat(),
                    **counts,
                    "stickiness": round(counts["dau"] / counts["mau"], 4)
                    if counts["mau"]
                    else None,
                }
            )
        number += 1
    return rows


def _changes(pairs: QuerySet, windows: dict[str, int]) -> dict[int, dict[str, int]]:
    """{day number: {window name: net change of its count that day}}.

    The database counts the active days by their gap to the user's next one (capped
    past the widest window, so at most a few thousand groups come back); a day a with
    gap g opens every window at a and closes a window of W days at a + min(W, g)."""
    connection = connections[pairs.db]
    inner, params = pairs.query.sql_with_params()
    day = DAY_NUMBER[connection.vendor]
    cap = max(windows.values()) + 1
    # Only integers of this module go into the text; the inner query's values (the
    # tenant, the range, the zone) travel as its parameters.
    sql = (
        f"WITH numbered AS (SELECT distinct_id, {day} AS day_number FROM ({inner}) AS pairs), "  # noqa: S608
        "spans AS (SELECT day_number, LEAD(day_number) OVER "
        "(PARTITION BY distinct_id ORDER BY day_number) - day_number AS gap FROM numbered) "
        f"SELECT day_number, CASE WHEN gap IS NULL OR gap > {cap} THEN {cap} ELSE gap END, "
        "count(*) FROM spans GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    changes: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(windows, 0))
    for number, gap, users in rows:
        for name, width in windows.items():
            changes[number][name] += users
            changes[number + min(width, gap)][name] -= users
    return changes


def _days(
    users: QuerySet, start: dt.date | None, end: dt.date | None, tz: ZoneInfo
) -> tuple[dt.date | None, dt.date | None]:
    """The range asked, its open sides closed by the data's first and last days."""
    if start is not None and end is not None:
        return start, end
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    bounds = users.filter(half_open("timestamp", lower, upper)).aggregate(
        first=Min("timestamp"), last=Max("timestamp")
    )
    if bounds["first"] is None:
        return None, None
    return (
        start or bounds["first"].astimezone(tz).date(),
        end or bounds["last"].astimezone(tz).date(),
    )


def _number(day: dt.date) -> int:
    return (day - EPOCH).days
