"""Totals over buckets of whole local days, read mostly from the daily rollup.

A bucket is [edge_i, edge_i+1), the edges being local midnights (of days, Mondays or
firsts of months) as UTC instants. Writing D for an edge's UTC day and P(edge) for the
counts of D before the edge, a bucket holds

    the whole UTC days D_i ≤ d < D_i+1 (DailyCountTotal)  -  P(edge_i)  +  P(edge_i+1)

(a day between the UTC days of two edges is whole in the bucket; the two edges' UTC days
are corrected by what lies before each edge). P comes from the hourly rollup: the whole
hours of D before the edge, and the first minutes of the hour it falls in (first_<m>,
in zones whose days begin at minute m). When the edge is late in its UTC day, P is
read as the day's total less what follows the edge, so each edge reads at most 12
hourly rows per event. A year of daily buckets in New York reads 365 daily rows and
5 hourly rows per event and day, instead of 24 hourly rows: see `bucket_totals`.
"""

import datetime as dt
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.db.models import Case, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractHour, TruncDate
from django.db.models.lookups import GreaterThanOrEqual

from events.models import DailyCountTotal, HourlyCountTotal

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
EDGES_PER_QUERY = 400  # hour ranges OR'ed in one statement


def bucket_totals(
    *,
    rollup: QuerySet[HourlyCountTotal],
    daily: QuerySet[DailyCountTotal],
    edges: Sequence[dt.datetime],
    split: int,
) -> Counter[tuple[int, int]]:
    """Sum of counts per (bucket index, event_id) for the buckets [edges[i], edges[i+1]).
    Every edge lies at minute `split` of its UTC hour (see events.rollups.hour_split)."""
    days = [edge.astimezone(dt.UTC).date() for edge in edges]
    totals: Counter[tuple[int, int]] = Counter()
    whole: dict[tuple[dt.date, int], int] = {}
    rows = (
        daily.filter(day__gte=days[0], day__lte=days[-1])
        .order_by()
        .values_list("day", "event_id")
        .annotate(total=Sum("count"))
    )
    for day, event_id, total in rows:
        whole[(day, event_id)] = total
        if day < days[-1]:
            totals[(bisect_right(days, day) - 1, event_id)] += total
    last = len(edges) - 1
    for index, event_id, before in _before_edges(rollup, edges, split, whole):
        if index > 0:
            totals[(index - 1, event_id)] += before
        if index < last:
            totals[(index, event_id)] -= before
    return totals


def _before_edges(rollup, edges, split, whole) -> list[tuple[int, int, int]]:
    """(edge index, event_id, counts of the edge's UTC day before the edge), nonzero."""
    found = []
    for first in range(0, len(edges), EDGES_PER_QUERY):
        chunk = list(enumerate(edges[first : first + EDGES_PER_QUERY], start=first))
        found += _before_chunk(rollup, chunk, split, whole)
    return found


def _before_chunk(rollup, edges, split, whole) -> list[tuple[int, int, int]]:
    # Each edge reads the whole hours on one side of it: before it when it lies in the
    # first half of its UTC day, after it (subtracted from the day) otherwise. Edges are
    # 23 hours or more apart, so no two read the same half of a UTC day.
    sides: dict[tuple[dt.date, bool], tuple[int, dt.datetime]] = {}
    ranges = []
    for index, edge in edges:
        start = edge.astimezone(dt.UTC)
        midnight = start.replace(hour=0, minute=0)
        if start == midnight:
            continue  # nothing of its day lies before it
        hour, late = start.replace(minute=0), start - midnight > dt.timedelta(hours=12)
        sides[(midnight.date(), late)] = (index, hour)
        ranges.append(
            (hour + HOUR if split else start, midnight + DAY) if late else (midnight, hour)
        )
    if not sides:
        return []
    hours = _hour_sums(rollup, ranges)
    cut = _cut_hours(rollup, [hour for _, hour in sides.values()], split)
    events = {event_id for (_, _, event_id) in hours} | {event_id for (_, event_id) in cut}
    events |= {event_id for (_, event_id) in whole}
    found = []
    for (day, late), (index, hour) in sides.items():
        for event_id in events:
            first, rest = cut.get((hour, event_id), (0, 0))
            side = hours.get((day, late, event_id), 0)
            before = whole.get((day, event_id), 0) - side - rest if late else side + first
            if before:
                found.append((index, event_id, before))
    return found


def _hour_sums(rollup, ranges) -> dict[tuple[dt.date, bool, int], int]:
    """Sum of counts per (UTC day, after its noon, event_id) over the hour `ranges`."""
    ranges = [(low, high) for low, high in ranges if low < high]
    if not ranges:
        return {}
    within = reduce(or_, (Q(hour__gte=low, hour__lt=high) for low, high in ranges))
    afternoon = GreaterThanOrEqual(ExtractHour("hour", tzinfo=dt.UTC), 12)
    rows = (
        rollup.filter(within)
        .order_by()
        .annotate(
            day=TruncDate("hour", tzinfo=dt.UTC),
            late=Case(When(afternoon, then=Value(True)), default=Value(False)),
        )
        .values_list("day", "late", "event_id")
        .annotate(total=Sum("count"))
    )
    return {(day, late, event_id): total for day, late, event_id, total in rows}


def _cut_hours(rollup, hours, split) -> dict[tuple[dt.datetime, int], tuple[int, int]]:
    """(first `split` minutes, the rest) per (hour, event_id) of the hours edges cut."""
    if not split or not hours:
        return {}
    rows = (
        rollup.filter(hour__in=hours)
        .order_by()
        .values_list("hour", "event_id")
        .annotate(total=Sum("count"), first=Sum(f"first_{split}"))
    )
    return {(hour, event_id): (first, total - first) for hour, event_id, total, first in rows}
