"""Read-only aggregations over already tenant-scoped querysets.

Each selector aggregates in SQL and returns plain data. Day boundaries are
taken in the given time zone; date ranges are inclusive of both days.
"""

import datetime as dt
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from events.models import Event, EventLog


class Frequency(TypedDict):
    event_name: str
    total: int


def day_range_bounds(
    *, start: dt.date | None, end: dt.date | None, tz: ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Inclusive [start, end] days in `tz` → half-open [start 00:00, end+1 00:00) instants."""
    # The calendar's first and last days bound nothing; shifting them by a day or by
    # the zone's UTC offset would overflow datetime (a 500 on ?end_date=9999-12-31).
    if start == dt.date.min:
        start = None
    if end == dt.date.max:
        end = None
    lower = dt.datetime.combine(start, dt.time.min, tzinfo=tz) if start else None
    upper = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz) if end else None
    return lower, upper


def event_trend(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None = None,
) -> dict[str, dict[str, int]]:
    """Sum of counts per local day and event: `{"YYYY-MM-DD": {"event": n}}`, days ascending."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    logs = logs.between(lower, upper)
    if event_name is not None:
        logs = logs.filter(event__name=event_name)
    rows = (
        logs.annotate(day=TruncDate("timestamp", tzinfo=tz))
        .values("day", "event__name")
        .annotate(total=Sum("count"))
        .order_by("day", "event__name")
    )
    trend: dict[str, dict[str, int]] = {}
    for row in rows:
        trend.setdefault(row["day"].isoformat(), {})[row["event__name"]] = row["total"]
    return trend


def event_frequency(
    *,
    events: QuerySet[Event],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
) -> list[Frequency]:
    """Total count per event in the range, most frequent first (ties by name).
    Events with no logs in the range are listed with total 0."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    in_range = Q()
    if lower is not None:
        in_range &= Q(logs__timestamp__gte=lower)
    if upper is not None:
        in_range &= Q(logs__timestamp__lt=upper)
    rows = (
        events.annotate(total=Coalesce(Sum("logs__count", filter=in_range), 0))
        .order_by("-total", "name")
        .values("name", "total")
    )
    return [Frequency(event_name=row["name"], total=row["total"]) for row in rows]
