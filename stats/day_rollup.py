"""Totals over buckets of whole local days, read from the daily rollup.

A bucket is [edge_i, edge_i+1), the edges being local midnights (of days, Mondays or
firsts of months) as UTC instants. Writing D for an edge's UTC day and P(edge) for the
counts of D before the edge, a bucket holds

    the whole UTC days D_i <= d < D_i+1 (DailyCountTotal)  -  P(edge_i)  +  P(edge_i+1)

(a day between the UTC days of two edges is whole in the bucket; the two edges' UTC days
are corrected by what lies before each edge). P is the day's before_<h> column for an
edge at h:00 UTC (New York's days begin at 05:00 or 04:00 UTC), plus, for an edge at
h:30 or h:45 (Kolkata: 18:30), the first minutes of that hour from HourlyCountTotal
(first_30). So a year of daily buckets reads one row per event and day in every zone,
and one hourly row per event and edge where the zone's days begin inside an hour.
Those queries read one snapshot (core.sql.one_snapshot): at READ COMMITTED an event
committed between two of them was subtracted from a total that never held it.
"""

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Field, Func, QuerySet, Sum

from core.sql import one_snapshot, utc_day_sql, utc_hour_of_day_sql
from events.models import DailyCountTotal, HourlyCountTotal


def _sum(column: str) -> Func:
    """SUM as a bigint, handed over as the driver reads it: Django's per-value int()
    conversion of an integer aggregate took a third of the time of a year's buckets."""
    return Func(Sum(column), template="CAST(%(expressions)s AS bigint)", output_field=Field())


class _UtcDayText(Func):
    """The UTC day of an instant as YYYY-MM-DD text, read without per-value conversion."""

    output_field = Field()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({utc_day_sql(sql)} AS text)", params


class _UtcHourOfDay(Func):
    """The UTC hour of the day (0-23) of an instant, read without per-value conversion."""

    output_field = Field()

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({utc_hour_of_day_sql(sql)} AS integer)", params


def bucket_totals(
    *,
    rollup: QuerySet[HourlyCountTotal],
    daily: QuerySet[DailyCountTotal],
    edges: Sequence[dt.datetime | None],
    split: int,
) -> dict[int, list[int]]:
    """Sum of counts of each event_id in the buckets [edges[i], edges[i+1]), as a list
    per event. Every edge lies at minute `split` of its UTC hour (see
    events.rollups.hour_split); the first and the last may be None (an open side)."""
    starts = [None if edge is None else edge.astimezone(dt.UTC) for edge in edges]
    closed = [start for start in starts if start is not None]
    hours = sorted({start.hour for start in closed} - {0})
    with one_snapshot():  # an event counted in every part or in none (core.sql)
        totals, before = _whole_days(daily, [start and start.date() for start in starts], hours)
        cut = _first_minutes(rollup, [s.replace(minute=0) for s in closed if s.minute], split)
    column = {hour: i for i, hour in enumerate(hours)}
    last = len(starts) - 1
    for index, start in enumerate(starts):
        if start is None:
            continue  # an open side: nothing before it to take away
        earlier: list[tuple[int, int]] = []
        if start.hour:
            at = column[start.hour]
            earlier += [(event_id, sums[at]) for event_id, sums in before.get(start.date(), ())]
        earlier += cut.get((start.date().isoformat(), start.hour), [])
        for event_id, counts in earlier:
            buckets = totals.get(event_id) or totals.setdefault(event_id, [0] * last)
            if index > 0:
                buckets[index - 1] += counts
            if index < last:
                buckets[index] -= counts
    return totals


def _whole_days(
    daily: QuerySet[DailyCountTotal], days: list[dt.date | None], hours: list[int]
) -> tuple[dict[int, list[int]], dict[dt.date, list[tuple[int, list[int]]]]]:
    """The whole UTC days of each bucket (days[i] <= day < days[i+1]; None first or
    last: open) per event, and the before_<h> sums of `hours` on the edges' days:
    [(event_id, sums)]."""
    if days[0] is not None:
        daily = daily.filter(day__gte=days[0])
    if days[-1] is not None:
        daily = daily.filter(day__lte=days[-1])
    daily = daily.order_by()
    if len(days) == 2:  # one bucket (a frequency): summed per event in SQL
        inside = daily if days[-1] is None else daily.filter(day__lt=days[-1])
        totals = {event_id: [total] for event_id, total in _per_event(inside)}
        edge_days = daily.filter(day__in=[day for day in days if day is not None])
        return totals, _before(edge_days, hours) if hours else {}
    columns = ["count", *(f"before_{hour}" for hour in hours)]
    rows = daily.values_list("day", "event_id").annotate(
        **{f"sum{i}": _sum(column) for i, column in enumerate(columns)}
    )
    buckets = len(days) - 1
    days = [days[0] or dt.date.min, *days[1:-1], days[-1] or dt.date.max]
    totals: dict[int, list[int]] = {}
    before: dict[dt.date, list[tuple[int, list[int]]]] = defaultdict(list)
    bucket_of: dict[dt.date, int] = {}
    for day, event_id, total, *sums in rows:
        if day < days[-1]:
            if day not in bucket_of:
                bucket_of[day] = bisect_right(days, day) - 1
            into = totals.get(event_id) or totals.setdefault(event_id, [0] * buckets)
            into[bucket_of[day]] += total
        if sums:
            before[day].append((event_id, sums))
    return totals, before


def _per_event(daily: QuerySet[DailyCountTotal]) -> QuerySet:
    return daily.values_list("event_id").annotate(total=_sum("count"))


def _before(
    daily: QuerySet[DailyCountTotal], hours: list[int]
) -> dict[dt.date, list[tuple[int, list[int]]]]:
    rows = daily.values_list("day", "event_id").annotate(
        **{f"sum{i}": _sum(f"before_{hour}") for i, hour in enumerate(hours)}
    )
    before: dict[dt.date, list[tuple[int, list[int]]]] = defaultdict(list)
    for day, event_id, *sums in rows:
        before[day].append((event_id, sums))
    return before


def _first_minutes(
    rollup: QuerySet[HourlyCountTotal], hours: list[dt.datetime], split: int
) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """The first `split` minutes of the hours the edges cut, by (UTC day as YYYY-MM-DD,
    hour of the day): [(event_id, counts)]. (Reading back 7,000 timestamps with time
    zones, or converting dates, cost more than the query.)"""
    if not hours:
        return {}
    rows = (
        rollup.filter(hour__in=hours)
        .order_by()
        .values_list(_UtcDayText("hour"), _UtcHourOfDay("hour"), "event_id")
        .annotate(first=_sum(f"first_{split}"))
    )
    cut: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for day, hour, event_id, first in rows:
        cut[(day, hour)].append((event_id, first))
    return cut
