"""Read-only aggregations over already tenant-scoped querysets.

Each selector aggregates in SQL and returns plain data. Day boundaries are
taken in the given time zone; date ranges are inclusive of both days.

Two sources give the same numbers: the hourly rollup (HourlyCountTotal: the folded
HourlyCount rows plus the increments not folded yet, per event and UTC hour) and the
raw EventLog rows. The rollup answers whenever the zone's local hours begin at the same
minute of every UTC hour over the data read (`hour_split`): on the hour in whole-hour
zones, at :30 in India, at :15 in Nepal. There an hour row counts as two pieces, its
first minutes (the cumulative first_<m> column) and the rest (see `_pieces`). Raw rows
answer the few zones where that minute changed (or is not a multiple of 15). Buckets of
whole days (day, week, month) and totals over days read the daily rollup instead, with
the hourly one only around the edges (stats.day_rollup), when the caller passes it.
"""

import datetime as dt
from typing import NamedTuple, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateField,
    DateTimeField,
    Expression,
    ExpressionWrapper,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce, ExtractHour, Trunc, TruncDate

from accounts.tenancy import scope_to_outer_tenant
from core.ranges import OutOfCalendar, half_open, within_calendar
from core.rounding import round_half_up
from core.sql import one_snapshot
from events.models import (
    DailyCountTotal,
    Event,
    EventLog,
    HourlyCountTotal,
    IngestionCount,
    IngestionCountTotal,
    RejectionReason,
)
from events.rollups import Source, hour_split, use_rollup
from stats.buckets import (
    Interval,
    TooManyBuckets,
    bucket_edges,
    bucket_key,
    bucket_keys,
    key_sorter,
)
from stats.day_rollup import bucket_totals
from stats.models import UserActivityPeriod


class Frequency(TypedDict):
    event_name: str
    total: int


class HourlyDistribution(TypedDict):
    event: str
    count: int
    hour_count: list[int]  # 24 sums of counts, index = hour of day in the zone
    percent: list[float]  # 24 shares of `count`, 2 decimals summing to 100; all 0.0 if none


class DailyAmount(TypedDict):
    date: str  # YYYY-MM-DD in the zone
    event_amount: int


class DailyAveragePerUser(TypedDict):
    date: str
    event_avg_per_user: float


class DailyUniqueUsers(TypedDict):
    date: str
    unique_users: int


# The days an open range may reach: datetime can still add a day and a zone's offset.
FIRST_OPEN_DAY = dt.date.min + dt.timedelta(days=2)
LAST_OPEN_DAY = dt.date.max - dt.timedelta(days=2)


def first_asked_day(tz: ZoneInfo) -> dt.date:
    """The first day an explicit range may start on in `tz`: the calendar's first day
    bounds nothing (day_range_bounds reads it as an open start), and a day whose local
    midnight lies before the year 1 (0001-01-01 east of UTC) cannot be counted."""
    day = dt.date.min + dt.timedelta(days=1)
    while True:
        try:
            within_calendar(
                lower=dt.datetime.combine(day, dt.time.min, tzinfo=tz), upper=None, tz=tz
            )
        except OutOfCalendar:
            day += dt.timedelta(days=1)
        else:
            return day


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
    rollup: QuerySet[HourlyCountTotal],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    interval: Interval = "day",
    event_name: str | None = None,
    source: Source = "auto",
    fill: bool = True,
    daily: QuerySet[DailyCountTotal] | None = None,
    events: QuerySet[Event] | None = None,
) -> dict[str, dict[str, int]]:
    """Sum of counts per bucket and event, `{bucket: {event_name: n}}`, buckets ascending
    and filled across the range (or across the data when the range is open).

    Bucket keys: `YYYY-MM-DD` for day, the Monday for week, the 1st for month, and
    the local ISO datetime with offset for hour. Raises TooManyBuckets. With
    `fill=False` only buckets with data are returned (and no bucket limit applies).
    With `daily` (and the tenant's `events`, which name its rows), buckets of whole days
    are read from the daily rollup."""
    if daily is not None and events is None:
        raise TypeError("event_trend reads the daily rollup with the tenant's events only.")
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    if event_name is not None:
        logs, rollup = logs.filter(event__name=event_name), rollup.filter(event__name=event_name)
        daily = daily if daily is None else daily.filter(event__name=event_name)
    split = _day_rollup_split(daily, tz=tz, source=source, start=start, end=end)
    found = None
    if split is not None and interval != "hour":
        try:
            found = _trend_from_days(rollup, daily, events, lower, upper, interval, tz, split)
        except TooManyBuckets:
            if fill:
                raise
            # Unfilled, no limit applies: data spread over more days than one query's
            # buckets (an open range over decades) is read from the hourly pieces.
    if found is None:
        found = _trend_from_pieces(logs, rollup, start, end, interval, tz, source)
    # Seed 001's shape lists only the events that occurred in a bucket; an empty bucket
    # is {} ({event_name: 0} when the query names one event).
    empty = {event_name: 0} if event_name is not None else {}
    if not fill:
        return {key: dict(sorted(found[key].items())) for key in sorted(found, key=key_sorter(tz))}
    keys = bucket_keys(lower, upper, interval, tz, list(found))
    return {key: dict(sorted(found.get(key, empty).items())) for key in keys}


def _trend_from_days(
    rollup, daily, events, lower, upper, interval, tz, split
) -> dict[str, dict[str, int]]:
    # One snapshot (core.sql.one_snapshot) also for the names: an event deleted after its
    # totals were read had none, a KeyError below.
    with one_snapshot():
        bounds = _data_bounds(daily, lower, upper, tz)
        if bounds is None:
            return {}
        edges, keys = bucket_edges(*bounds, interval, tz)
        totals = bucket_totals(rollup=rollup, daily=daily, edges=edges, split=split)
        names = dict(events.filter(pk__in=list(totals)).values_list("id", "name"))
    found: dict[str, dict[str, int]] = {}
    for event_id, buckets in totals.items():
        for key, total in zip(keys, buckets, strict=True):
            if total:
                found.setdefault(key, {})[names[event_id]] = total
    return found


def _trend_from_pieces(logs, rollup, start, end, interval, tz, source) -> dict[str, dict[str, int]]:
    pieces = _pieces(logs=logs, rollup=rollup, start=start, end=end, tz=tz, source=source)
    totals = _piece_totals(
        # Grouped by the integer event id, the name carried along by Min(): grouping a
        # year of hourly rows by the text name spilled the sort to disk at 10 M events.
        pieces,
        lambda instant: time_bucket(instant, interval, tz),
        name=Min("event__name"),
    )
    found: dict[str, dict[str, int]] = {}
    for (bucket, _, name), total in totals.items():
        # A bucket whose logs were deleted sums to 0 until the fold removes its row: it
        # has no occurrences, as on the raw path.
        if total:
            found.setdefault(bucket_key(bucket, interval, tz), {})[name] = total
    return found


def _day_rollup_split(daily, *, tz, source, start, end) -> int | None:
    """Where `tz`'s hours begin in the UTC hour if the daily rollup answers, else None."""
    if daily is None or not use_rollup(tz=tz, source=source, start=start, end=end):
        return None
    return hour_split(tz, start=start, end=end)


def _data_bounds(daily, lower, upper, tz) -> tuple[dt.datetime, dt.datetime] | None:
    """[lower, upper) with an open side closed at a local midnight around the data's
    first or last UTC day; None when an open range holds no data."""
    if lower is not None and upper is not None:
        return lower, upper
    first, last = daily.order_by().aggregate(first=Min("day"), last=Max("day")).values()
    if first is None:
        return None
    # A log on the calendar's first or last days (stored before ingestion checked the
    # range, or imported) is left out: a day later, or a zone's offset away, overflows.
    first, last = max(first, FIRST_OPEN_DAY), min(last, LAST_OPEN_DAY)
    if lower is None:  # the local day in which the first UTC day begins
        begins = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC).astimezone(tz)
        lower = dt.datetime.combine(begins.date(), dt.time.min, tzinfo=tz)
    if upper is None:  # the local midnight after the one the last UTC day ends in
        ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        after = ends.astimezone(tz).date() + dt.timedelta(days=1)
        upper = dt.datetime.combine(after, dt.time.min, tzinfo=tz)
    return lower, upper


def event_frequency(
    *,
    events: QuerySet[Event],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    source: Source = "auto",
    rollup: QuerySet[HourlyCountTotal] | None = None,
    daily: QuerySet[DailyCountTotal] | None = None,
) -> list[Frequency]:
    """Total count per event in the range, most frequent first (ties by name).
    Events with no logs in the range are listed with total 0. With the tenant's
    `rollup` and `daily`, whole days are read from the daily rollup."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    split = _day_rollup_split(daily, tz=tz, source=source, start=start, end=end)
    if split is not None and rollup is not None:
        asked = events.values("pk")  # one event's frequency reads that event's rows only
        rollup, daily = rollup.filter(event_id__in=asked), daily.filter(event_id__in=asked)
        totals = bucket_totals(rollup=rollup, daily=daily, edges=[lower, upper], split=split)
        per_event = {event_id: total for event_id, (total,) in totals.items()}
        names = events.order_by("name").values_list("pk", "name")  # ties: the database's order
        rows = sorted(((name, per_event.get(pk, 0)) for pk, name in names), key=lambda r: -r[1])
        return [Frequency(event_name=name, total=total) for name, total in rows]
    rows = {
        name: scope_to_outer_tenant(model.objects.filter(event_id=OuterRef("pk")))
        for name, model in (("logs", EventLog), ("rollup", HourlyCountTotal))
    }
    pieces = _pieces(**rows, start=start, end=end, tz=tz, source=source)
    # One correlated sum per event: it walks the (tenant, event, time) index over the
    # range only. (A LEFT JOIN with a FILTERed Sum would join every row of the tenant.)
    total = sum((Sum(amount) for _, amount in pieces.parts[1:]), Sum(pieces.parts[0][1]))
    per_event = pieces.rows.order_by().values("event_id").annotate(total=total).values("total")
    rows = (
        events.annotate(total=Coalesce(Subquery(per_event), 0))
        .order_by("-total", "name")
        .values_list("name", "total")
    )
    return [Frequency(event_name=name, total=total) for name, total in rows]


def hourly_distribution(
    *,
    logs: QuerySet[EventLog],
    rollup: QuerySet[HourlyCountTotal],
    events: QuerySet[Event],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None = None,
    source: Source = "auto",
) -> HourlyDistribution | list[HourlyDistribution]:
    """Sum of counts per hour of the day (0-23, on the clock of `tz`) in the range: one
    object for `event_name`, else one per event of `events` (zeros included), most
    frequent first, ties by name. Raises Event.DoesNotExist for an unknown `event_name`."""
    names = dict(_named(events, event_name).values_list("id", "name"))
    if event_name is not None and not names:
        raise Event.DoesNotExist(f"No event named {event_name!r}.")
    pieces = _pieces(logs=logs, rollup=rollup, start=start, end=end, tz=tz, source=source)
    if event_name is not None:
        pieces = pieces._replace(rows=pieces.rows.filter(event_id__in=list(names)))
    hours = {event_id: [0] * 24 for event_id in names}
    # In every zone the rollup answers, a piece lies within one local hour.
    totals = _piece_totals(pieces, lambda instant: ExtractHour(instant, tzinfo=tz))
    for (hour, event_id), total in totals.items():
        if event_id in hours:  # `logs` may be wider than `events`: only these are asked for
            hours[event_id][hour] += total
    found = [_distribution(names[event_id], counts) for event_id, counts in hours.items()]
    if event_name is not None:
        return found[0]
    return sorted(found, key=lambda row: (-row["count"], row["event"]))


def event_amount(
    *,
    logs: QuerySet[EventLog],
    rollup: QuerySet[HourlyCountTotal],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None = None,
    source: Source = "auto",
    daily: QuerySet[DailyCountTotal] | None = None,
    events: QuerySet[Event] | None = None,
) -> list[DailyAmount]:
    """Sum of counts per day of `event_name`, or of all events (a store's events
    amount): `event_trend` per day, one row per day of the range, zeros included."""
    trend = event_trend(
        logs=logs,
        rollup=rollup,
        daily=daily,
        events=events,
        start=start,
        end=end,
        tz=tz,
        event_name=event_name,
        source=source,
    )
    return [DailyAmount(date=day, event_amount=sum(row.values())) for day, row in trend.items()]


def event_avg_per_user(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None = None,
) -> list[DailyAveragePerUser]:
    """Per day: sum of counts / number of distinct users, over events with a distinct_id
    (anonymous ones are left out of both), rounded to 2 decimals; 0.0 on days without
    any. Raw rows only: the rollup does not know users."""
    rows = _per_user_days(logs=logs, start=start, end=end, tz=tz, event_name=event_name)
    return [
        DailyAveragePerUser(
            date=day, event_avg_per_user=round_half_up(total, users) if users else 0.0
        )
        for day, users, total in rows
    ]


def unique_users(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None = None,
) -> list[DailyUniqueUsers]:
    """Distinct non-empty distinct_ids per day that sent any event (or `event_name`);
    0 on days without any. Raw rows only."""
    rows = _per_user_days(logs=logs, start=start, end=end, tz=tz, event_name=event_name)
    return [DailyUniqueUsers(date=day, unique_users=users) for day, users, _ in rows]


def user_activity_periods(
    *,
    periods: QuerySet[UserActivityPeriod],
    distinct_id: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[UserActivityPeriod]:
    """The computed activity periods of one user (or all) whose start lies in `[start,
    end)`, ordered by period_start then distinct_id, as dicts of the public fields."""
    if distinct_id is not None:
        periods = periods.filter(distinct_id=distinct_id)
    return (
        periods.filter(half_open("period_start", start, end))
        .order_by("period_start", "distinct_id")
        .values("distinct_id", "period_start", "period_end", "events")
    )


def _per_user_days(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    event_name: str | None,
) -> list[tuple[str, int, int]]:
    """(YYYY-MM-DD, distinct users, sum of counts of their events) for every day of the
    range (of the data, where the range is open), ascending; (day, 0, 0) when none."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    rows = logs.filter(half_open("timestamp", lower, upper)).exclude(distinct_id="")
    if event_name is not None:
        rows = rows.filter(event__name=event_name)
    totals = (
        rows.order_by()
        .annotate(day=TruncDate("timestamp", tzinfo=tz))
        .values_list("day")
        .annotate(users=Count("distinct_id", distinct=True), total=Sum("count"))
    )
    found = {day.isoformat(): (users, total) for day, users, total in totals}
    return [
        (day, *found.get(day, (0, 0))) for day in bucket_keys(lower, upper, "day", tz, list(found))
    ]


def _named(events: QuerySet[Event], event_name: str | None) -> QuerySet[Event]:
    return events if event_name is None else events.filter(name=event_name)


def _distribution(name: str, hour_count: list[int]) -> HourlyDistribution:
    count = sum(hour_count)
    percent = shares_of_100(hour_count) if count else [0.0] * len(hour_count)
    return HourlyDistribution(event=name, count=count, hour_count=hour_count, percent=percent)


def shares_of_100(counts: list[int]) -> list[float]:
    """Each count's share of their (non-zero) sum in percent, to 2 decimals, summing to
    exactly 100.00: the largest-remainder method on hundredths of a percent (each share
    rounded down, then the hundredths left given to the largest remainders, ties to the
    earlier hour)."""
    total = sum(counts)
    floors, remainders = [], []
    for index, n in enumerate(counts):
        hundredths, remainder = divmod(10_000 * n, total)
        floors.append(hundredths)
        remainders.append((-remainder, index))
    for _, index in sorted(remainders)[: 10_000 - sum(floors)]:
        floors[index] += 1
    return [hundredths / 100 for hundredths in floors]


class Pieces(NamedTuple):
    """The rows a query reads and what each counts: one or two pieces per row, each an
    (instant, amount) pair that goes to the bucket of its instant."""

    rows: QuerySet
    parts: tuple[tuple[Expression, Expression], ...]


def _pieces(
    *,
    logs: QuerySet[EventLog],
    rollup: QuerySet[HourlyCountTotal],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    source: Source,
) -> Pieces:
    """What to count for the days `start` to `end` in `tz`: the instants [lower, upper).

    A raw log is one piece at its timestamp; so is a rollup hour where local hours begin
    on the UTC hour. Where they begin at minute m of it (India: 30), a rollup hour is two
    pieces: its first m minutes (first_<m>) at the hour, the rest at the hour + m. Each
    lies within one local hour, so each falls in exactly one bucket of any interval. The
    range's edges split hours too: the hour before `lower` counts only its rest, the
    last hour only its first minutes."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    if not use_rollup(tz=tz, source=source, start=start, end=end):
        rows = logs.filter(half_open("timestamp", lower, upper))
        return Pieces(rows, ((F("timestamp"), F("count")),))
    split = hour_split(tz, start=start, end=end) or 0  # forced "rollup": where hours begin
    if not split:
        return Pieces(rollup.filter(half_open("hour", lower, upper)), ((F("hour"), F("count")),))
    offset = dt.timedelta(minutes=split)
    first, rest = F(f"first_{split}"), F("count") - F(f"first_{split}")
    head = first if lower is None else Case(When(hour__gte=lower, then=first), default=0)
    tail = rest if upper is None else Case(When(hour__lt=upper - offset, then=rest), default=0)
    later = ExpressionWrapper(F("hour") + offset, output_field=DateTimeField())
    rows = rollup.filter(half_open("hour", lower and lower - offset, upper))
    return Pieces(rows, ((F("hour"), head), (later, tail)))


def _piece_totals(pieces: Pieces, bucket, **carried) -> dict[tuple, int]:
    """Sums of the pieces' amounts per (bucket, event_id, *carried values), `bucket`
    giving each piece's bucket expression from its instant; `carried` are aggregates
    (per event) to key by as well."""
    buckets = {f"bucket{i}": bucket(instant) for i, (instant, _) in enumerate(pieces.parts)}
    amounts = {f"amount{i}": Sum(amount) for i, (_, amount) in enumerate(pieces.parts)}
    rows = (
        pieces.rows.order_by()
        .annotate(**buckets)
        .values_list(*buckets, "event_id")
        .annotate(**amounts, **carried)
    )
    sums: dict[tuple, int] = {}
    width = len(buckets)
    for row in rows:
        event_id, extra = row[width], row[2 * width + 1 :]
        for key, total in zip(row[:width], row[width + 1 : 2 * width + 1], strict=True):
            group = (key, event_id, *extra)
            sums[group] = sums.get(group, 0) + total
    return sums


class IngestionBucket(TypedDict):
    requests: dict[str, int]  # {"valid": answered 2xx, "invalid": refused}
    accepted: int
    duplicate: int
    rejected: dict[str, int]  # every RejectionReason → items


def ingestion_counts(
    *,
    counts: QuerySet[IngestionCountTotal],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    interval: Interval = "day",
) -> dict[str, IngestionBucket]:
    """Ingestion accounting per bucket (seed 003): requests valid and invalid, items
    accepted, duplicate and rejected by reason (every reason listed, zeros included),
    buckets filled like event_trend. Counters are per UTC hour, so in a zone whose
    offset is not whole hours an hour falls in the bucket where it begins."""
    lower, upper = day_range_bounds(start=start, end=end, tz=tz)
    totals = (
        counts.order_by()
        .filter(half_open("hour", lower, upper))
        .annotate(bucket=time_bucket("hour", interval, tz))
        .values_list("bucket", "outcome", "reason")
        .annotate(events=Sum("events"), requests=Sum("requests"))
    )
    found: dict[str, IngestionBucket] = {}
    for bucket, outcome, reason, events, requests in totals:
        row = found.setdefault(bucket_key(bucket, interval, tz), _empty_ingestion())
        row["requests"]["invalid" if reason else "valid"] += requests
        if outcome == IngestionCount.Outcome.REJECTED:
            row["rejected"][reason] += events
        else:
            row[outcome] += events
    keys = bucket_keys(lower, upper, interval, tz, list(found))
    return {key: found.get(key) or _empty_ingestion() for key in keys}


def _empty_ingestion() -> IngestionBucket:
    return {
        "requests": {"valid": 0, "invalid": 0},
        "accepted": 0,
        "duplicate": 0,
        "rejected": dict.fromkeys(RejectionReason.values, 0),
    }


MAX_MARKS = 100  # annotations drawn on one chart


def annotation_marks(
    notes: QuerySet, lower: dt.datetime | None, upper: dt.datetime | None
) -> tuple[tuple[str, str], ...]:
    """The annotations (of one tenant) in [lower, upper) as a chart's marks: (ISO instant,
    text), the first MAX_MARKS."""
    rows = notes.filter(half_open("at", lower, upper)).order_by("at", "id")
    return tuple((at.isoformat(), text) for at, text in rows.values_list("at", "text")[:MAX_MARKS])


def time_bucket(field: str | Expression, interval: Interval, tz: ZoneInfo) -> Func:
    """The `interval` bucket of an instant column in `tz`: its start instant for hours,
    its first local day for the others."""
    if interval == "hour":
        # In most zones every local hour begins at the same minute of a UTC hour (0; 30
        # in India or Newfoundland, whose daylight time moves a whole hour): truncating
        # in a fixed offset that begins its hours there gives the local hours, and keeps
        # the repeated hour of a DST fall-back as two buckets, where truncating in the
        # zone itself merges them. Other zones (Lord Howe's half-hour daylight time)
        # are truncated in the zone.
        split = hour_split(tz)
        hour_tz = tz if split is None else dt.timezone(-dt.timedelta(minutes=split))
        return Trunc(field, "hour", output_field=DateTimeField(), tzinfo=hour_tz)
    if interval == "day":
        return TruncDate(field, tzinfo=tz)
    return Trunc(field, interval, output_field=DateField(), tzinfo=tz)
