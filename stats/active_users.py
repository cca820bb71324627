"""Active users over rolling windows (DAU, WAU, MAU, any window of days), exact.

A user is active on a day (in the zone asked) when they sent an event that day; the
count of day d over a window of W days is the number of users active on any of the
days (d - W, d]. One statement answers every window at once: from each user's distinct
active days a₁ < a₂ < …, each day aᵢ opens the user's coverage (+1) and closes it
(-1) at min(aᵢ + W, aᵢ₊₁) — the intervals are disjoint and cover exactly the days the
user counts on — so the database counts the active days by day and gap to the next,
and a running sum of the opens and closes over the days gives the counts. Distinct
users are never summed from smaller counts.

Approximate (asked for, any event, PostgreSQL with `hll`): each local day is the union
of the HyperLogLog sketches of its closed UTC hours (events.sketches) and a sketch of
the rows of its other hours (recent, changed since their sketch, or cut by a :30 or
:45 zone's midnight), and each window the union of its days, all in one statement: the
rows are read once per hour at most, never per window. The answer is within
RELATIVE_ERROR of the exact count (one standard error; exact for small counts).
"""

import datetime as dt
from collections import defaultdict
from typing import NamedTuple, TypedDict
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from pyroaring import BitMap64

from core.ranges import MICROSECOND, half_open, utc_hour, within_calendar
from core.rounding import round_half_up
from events.models import EventLog, HourlyCountIncrement, HourlyUserSketch
from events.sketches import HOUR, hll_ready
from events.usersets import UserSets, hours_between, sets_ready, stretches, whole_hours
from stats.buckets import MAX_BUCKETS, TooManyBuckets
from stats.selectors import day_range_bounds

WINDOWS = {"dau": 1, "wau": 7, "mau": 30}
MAX_ROW_STRETCHES = 200  # separate stretches of rows beside the sets; more: read all rows
# One standard error of a sketch of hll's default size (2^11 registers): 1.04 / √2048.
RELATIVE_ERROR = 0.023
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


class Sketches(NamedTuple):
    """A tenant's hourly user sketches and its pending counter increments (the hours
    whose sketches may be stale): what an approximate answer reads."""

    sketches: QuerySet[HourlyUserSketch]
    pending: QuerySet[HourlyCountIncrement]


def active_users(
    *,
    logs: QuerySet[EventLog],
    start: dt.date | None,
    end: dt.date | None,
    tz: ZoneInfo,
    window: int = 1,
    event_name: str | None = None,
    sketches: Sketches | None = None,
    sets: UserSets | None = None,
) -> list[ActiveUsers]:
    """One row per day of [start, end] (of the data, where open). Raises TooManyBuckets
    for more than MAX_BUCKETS days, OutOfCalendar when the windows of the range's days
    reach beyond the calendar. With `sketches`, an approximate answer where this
    database keeps them (any event only), each row saying which it is: `approximate`
    and its `relative_error`. With `sets`, an exact answer counts from the hourly user
    sets where this database keeps them (`_from_sets`)."""
    users = logs.exclude(distinct_id="").order_by()
    if event_name is not None:
        users = users.filter(event__name=event_name)
    first, last = _days(users, start, end, tz)
    if first is None or last is None or last < first:
        return []
    if (last - first).days >= MAX_BUCKETS:
        raise TooManyBuckets(f"More than {MAX_BUCKETS} days: narrow the range.")
    windows = {**WINDOWS, "active_users": window}
    # The first day's widest window and the day after the last one are read too.
    within_calendar(
        lower=_local_midnight(first, tz),
        upper=_local_midnight(last, tz),
        tz=tz,
        before=dt.timedelta(days=max(windows.values()) - 1),
        after=dt.timedelta(days=1),
    )
    last = _until_today(users, last, tz)
    if last < first:
        return []
    if sketches is not None:
        if event_name is None and hll_ready():
            rows = _sketched(users, sketches, first, last, tz, windows)
            return [{**row, "approximate": True, "relative_error": RELATIVE_ERROR} for row in rows]
        rows = _exact(users, first, last, tz, windows, sets, event_name)
        return [{**row, "approximate": False, "relative_error": 0.0} for row in rows]
    return _exact(users, first, last, tz, windows, sets, event_name)


def _exact(
    users,
    first: dt.date,
    last: dt.date,
    tz: ZoneInfo,
    windows,
    sets: UserSets | None,
    event_name: str | None,
) -> list[ActiveUsers]:
    """The exact answer: from the hourly user sets where this database has them, else
    from the rows."""
    if sets is not None and sets_ready():
        rows = _from_sets(users, sets, first, last, tz, windows, event_name)
        if rows is not None:
            return rows
    return _from_rows(users, first, last, tz, windows)


def _from_rows(users, first: dt.date, last: dt.date, tz: ZoneInfo, windows) -> list[ActiveUsers]:
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
            rows.append(_row(number, counts))
        number += 1
    return rows


def _row(number: int, counts: dict[str, int]) -> ActiveUsers:
    return {
        "date": (EPOCH + dt.timedelta(days=number)).isoformat(),
        **counts,  # type: ignore[typeddict-item]
        "stickiness": round_half_up(counts["dau"], counts["mau"], 4) if counts["mau"] else None,
    }


def _sketched(
    users: QuerySet, sketches: Sketches, first: dt.date, last: dt.date, tz: ZoneInfo, windows
) -> list[ActiveUsers]:
    """The approximate answer: one statement over the sketches and the rows of the hours
    without a usable one (see the module's docstring)."""
    widest = max(windows.values())
    start = first - dt.timedelta(days=widest - 1)
    lower, upper = day_range_bounds(start=start, end=last, tz=tz)
    assert lower is not None  # noqa: S101 - both days are given
    assert upper is not None  # noqa: S101
    # Hours a local midnight falls inside (zones with :30 or :45 offsets): read as rows.
    split = sorted(
        {
            utc_hour(midnight)
            for day in range((last - start).days + 2)
            if (midnight := _midnight(start + dt.timedelta(days=day), tz)).minute
        }
    )
    usable = (
        sketches.sketches.filter(hour__gte=utc_hour(lower), hour__lt=upper)
        .exclude(hour__in=split)
        .exclude(hour__in=sketches.pending.values("hour"))
        .order_by()
        .values_list("hour", "users")
    )
    rows = users.filter(half_open("timestamp", lower, upper)).values_list(
        "timestamp", "distinct_id"
    )
    usable_sql, usable_params = usable.query.sql_with_params()
    rows_sql, rows_params = rows.query.sql_with_params()
    names = list(windows)
    frames = ", ".join(
        f"w{index} AS (ORDER BY g.n ROWS BETWEEN {windows[name] - 1} PRECEDING AND CURRENT ROW)"
        for index, name in enumerate(names)
    )
    counts = ", ".join(
        f"COALESCE(round(hll_cardinality(hll_union_agg(d.users) OVER w{index})), 0)"
        for index in range(len(names))
    )
    # Only integers of this module and the inner queries' SQL go into the text; their
    # values (the tenant, the range) and the zone travel as parameters.
    sql = (
        f"WITH usable AS ({usable_sql}), "  # noqa: S608
        "unsketched AS (SELECT g.hour FROM generate_series(%s::timestamptz, "
        "%s::timestamptz, interval '1 hour') AS g(hour) "
        "WHERE g.hour NOT IN (SELECT u.hour FROM usable AS u(hour, users))), "
        "raw AS (SELECT (r.timestamp AT TIME ZONE %s)::date AS day, "
        "hll_add_agg(hll_hash_text(r.distinct_id)) AS users "
        f"FROM unsketched AS s JOIN ({rows_sql}) AS r(timestamp, distinct_id) "
        "ON r.timestamp >= s.hour AND r.timestamp < s.hour + interval '1 hour' GROUP BY 1), "
        "days AS (SELECT (u.hour AT TIME ZONE %s)::date AS day, u.users::hll AS users "
        "FROM usable AS u(hour, users) UNION ALL SELECT day, users FROM raw), "
        "daily AS (SELECT day - DATE '1970-01-01' AS n, hll_union_agg(users) AS users "
        "FROM days GROUP BY 1) "
        f"SELECT g.n, {counts} FROM generate_series(%s, %s) AS g(n) "
        f"LEFT JOIN daily AS d ON d.n = g.n WINDOW {frames} ORDER BY g.n"
    )
    params = [
        *usable_params,
        utc_hour(lower),
        utc_hour(upper - MICROSECOND),
        tz.key,
        *rows_params,
        tz.key,
        _number(start),
        _number(last),
    ]
    with connections[users.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [
        _row(number, {name: int(count) for name, count in zip(names, found_counts, strict=True)})
        for number, *found_counts in found
        if number >= _number(first)
    ]


def _from_sets(
    users: QuerySet,
    sets: UserSets,
    first: dt.date,
    last: dt.date,
    tz: ZoneInfo,
    windows,
    event_name: str | None,
) -> list[ActiveUsers] | None:
    """The exact answer from the hourly user sets (events.usersets): each local day is
    the union of the sets (the hour's own, or its `event_name`'s) of its whole UTC hours
    that are built and have no pending increment, and of the users of its other hours'
    rows (recent, changed since, or cut by a :30 or :45 zone's midnight); each window
    the union of its days. A built hour without a set of the event had none of its
    logs. A user of a row who has no number yet is in no set: they count apart, by
    distinct_id. None when the rows to read are too scattered to be worth it."""
    widest = max(windows.values())
    start = first - dt.timedelta(days=widest - 1)
    lower, upper = day_range_bounds(start=start, end=last, tz=tz)
    assert lower is not None  # noqa: S101 - both days are given
    assert upper is not None  # noqa: S101
    first_hour, end_hour = whole_hours(lower, upper)
    which = Q(event__isnull=True)  # the hour's own set: it says the hour is built
    if event_name is not None:
        which |= Q(event__name=event_name)
    found = (
        sets.hours.filter(which, hour__gte=first_hour, hour__lt=end_hour)
        .exclude(hour__in=sets.pending.values("hour"))
        .order_by()
        .values_list("event_id", "hour", "users")
    )
    blobs: dict[int, list[bytes]] = defaultdict(list)
    covered = set()
    for event_id, hour, users_set in found:
        day = hour.astimezone(tz).date()
        if (hour + HOUR - MICROSECOND).astimezone(tz).date() != day:
            continue  # a midnight inside: read from the rows
        if event_id is None:
            covered.add(hour)
        if (event_id is None) == (event_name is None):
            blobs[_number(day)].append(users_set)
    rest = [hour for hour in hours_between(first_hour, end_hour) if hour not in covered]
    spans = stretches(lower, upper, first_hour, end_hour, rest)
    if len(spans) > MAX_ROW_STRETCHES:
        return None
    found_users = _day_users(users, sets.numbers, spans, tz)
    days: dict[int, BitMap64] = {
        number: BitMap64.union(*(BitMap64.deserialize(blob) for blob in day_blobs))
        for number, day_blobs in blobs.items()
    }
    strays: dict[int, set[str]] = {}
    for day, day_numbers, day_strays in found_users:
        days[_number(day)] = days.get(_number(day), BitMap64()) | BitMap64(day_numbers or ())
        strays[_number(day)] = set(day_strays or ())
    rows = []
    for day in range(_number(first), _number(last) + 1):
        by_width = {}  # the window asked is often one of the three
        for width in set(windows.values()):
            span = range(day - width + 1, day + 1)
            known = BitMap64.union(BitMap64(), *(days[n] for n in span if n in days))
            apart = set().union(*(strays[n] for n in span if n in strays))
            by_width[width] = len(known) + len(apart)
        rows.append(_row(day, {name: by_width[width] for name, width in windows.items()}))
    return rows


def _day_users(
    users: QuerySet,
    numbers: QuerySet,
    spans: list[tuple[dt.datetime, dt.datetime]],
    tz: ZoneInfo,
) -> list[tuple[dt.date, list[int] | None, list[str] | None]]:
    """Per local day, the users of the rows in `spans` (half-open ranges): their numbers
    (`numbers`: UserNumber, the tenant's) and the distinct_ids without one. The rows are
    joined to the list of ranges, each read by its own index scan (ORed, a hundred
    ranges become one scan of every row of the tenant); their distinct (day, user)
    pairs, not every row, are then looked up among the numbers."""
    if not spans:
        return []
    rows, rows_params = users.values("timestamp", "distinct_id").query.sql_with_params()
    known, known_params = numbers.values("id", "distinct_id").query.sql_with_params()
    # Only the querysets' SQL goes into the text; their values, the ranges and the zone
    # travel as parameters.
    sql = (
        "SELECT p.day, array_agg(n.id) FILTER (WHERE n.id IS NOT NULL), "  # noqa: S608
        "array_agg(p.distinct_id) FILTER (WHERE n.id IS NULL) "
        "FROM (SELECT DISTINCT (r.timestamp AT TIME ZONE %s)::date AS day, r.distinct_id "
        f"FROM ({rows}) AS r(timestamp, distinct_id) "
        "JOIN unnest(%s::timestamptz[], %s::timestamptz[]) AS s(lower, upper) "
        "ON r.timestamp >= s.lower AND r.timestamp < s.upper) AS p "
        f"LEFT JOIN ({known}) AS n(id, distinct_id) ON n.distinct_id = p.distinct_id "
        "GROUP BY 1"
    )
    lowers, uppers = zip(*spans, strict=True)
    params = [tz.key, *rows_params, list(lowers), list(uppers), *known_params]
    with connections[users.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return _local_midnight(day, tz).astimezone(dt.UTC)


def _local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Aware, in `tz`: made for any day, even one whose midnight UTC cannot hold."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


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


def _until_today(users: QuerySet, last: dt.date, tz: ZoneInfo) -> dt.date:
    """`last`, but no later than today in `tz` (the days to come are not zeros yet, as
    every stats route stops at the current bucket), unless users were active later
    (a future timestamp): then their last day, as the others list a bucket with data."""
    today = dt.datetime.now(tz).date()
    if last <= today:
        return last
    lower, upper = day_range_bounds(start=today + dt.timedelta(days=1), end=last, tz=tz)
    later = users.filter(half_open("timestamp", lower, upper)).aggregate(last=Max("timestamp"))
    return today if later["last"] is None else later["last"].astimezone(tz).date()


def _number(day: dt.date) -> int:
    return (day - EPOCH).days
