"""Exact sets of the users of each closed UTC hour (HourlyUserSet), per event and per
value of the `data` keys that have few values (HourlyPropertyUserSet), for distinct
users over long ranges without reading every log (insights.usersets).

A user is a number (UserNumber, given the first time a build meets its distinct_id);
a set is a 64-bit roaring bitmap of numbers (pyroaring), so the users of a month are
the union of a few hundred small bitmaps instead of a distinct count over every log.

Like the hourly sketches (events.sketches), a set never answers for rows it has not
seen:
- it is built (`build_user_sets`, a job) only for an hour at least an hour past, from
  the rows and in the statement that checks no increment of that hour is pending;
- the fold deletes the sets of every older hour whose increments it moves (a late
  event, a deletion, an erasure) in the transaction that moves them
  (events.sketches.forget_hours);
- a reader takes a set only while its hour has no increment pending, else it reads
  that hour's rows.
Builds and the fold's deletions take the tenant's sketch lock, so a fold cannot miss a
set that a build is about to commit.

PostgreSQL (and Citus) only: the build reads `data`'s keys with `jsonb_each`. On SQLite
there are none and every answer comes from the rows.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from pyroaring import BitMap64

from accounts.tenancy import for_each_tenant, scope_to_tenant, scope_to_tenants
from core.ranges import half_open, utc_hour
from events.models import (
    Event,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    HourlyPropertyUserSet,
    HourlyUserSet,
    UserNumber,
)
from events.sketches import HOUR, closed_before, hour_runs, lock_sketches

BUILD_BATCH = 24  # hours per build transaction
FORGET_BATCH = 1000  # distinct_ids per statement of forget_numbers
# A key keeps its sets in an event's hour when it has at most MAX_VALUES values there,
# with MIN_LOGS_PER_VALUE logs a value at least (else its sets would hold one user each
# and save nothing over the rows): a plan or a country, not a page or an order id.
MAX_VALUES = 32
MIN_LOGS_PER_VALUE = 2
# Only identifiers from model metadata go into these.
_LOGS = EventLog._meta.db_table
_NUMBERS = UserNumber._meta.db_table
_PENDING = HourlyCountIncrement._meta.db_table
_SETS = HourlyUserSet._meta.db_table
_RANGE = (
    "l.tenant_id = %(tenant)s AND l.timestamp >= %(first)s "
    "AND l.timestamp < %(last)s + interval '1 hour'"
)
_NUMBER = f"""
INSERT INTO {_NUMBERS} (tenant_id, distinct_id)
SELECT DISTINCT %(tenant)s, l.distinct_id FROM {_LOGS} AS l
LEFT JOIN {_NUMBERS} AS n ON n.tenant_id = l.tenant_id AND n.distinct_id = l.distinct_id
WHERE {_RANGE} AND l.distinct_id <> '' AND n.id IS NULL
ON CONFLICT (tenant_id, distinct_id) DO NOTHING
"""  # noqa: S608
# The rows of the hours without a pending increment or sets (another build, which held
# the lock before, may have built some), with their users' numbers; every such hour
# has some (the counters hold only hours with logs). No correlated subquery
# and no set-returning function in a SELECT list: Citus plans neither here.
_ROWS = f"""
WITH rows AS MATERIALIZED (
    SELECT l.event_id, date_trunc('hour', l.timestamp, 'UTC') AS hour, l.count, n.id AS number,
        CASE jsonb_typeof(l.data) WHEN 'object' THEN l.data ELSE '{{}}'::jsonb END AS data
    FROM {_LOGS} AS l
    LEFT JOIN {_NUMBERS} AS n ON n.tenant_id = l.tenant_id AND n.distinct_id = l.distinct_id
    WHERE {_RANGE} AND date_trunc('hour', l.timestamp, 'UTC') NOT IN (
        SELECT hour FROM {_PENDING} WHERE tenant_id = %(tenant)s)
    AND date_trunc('hour', l.timestamp, 'UTC') NOT IN (
        SELECT hour FROM {_SETS} WHERE tenant_id = %(tenant)s AND event_id IS NULL
            AND hour >= %(first)s AND hour <= %(last)s)
),
pairs AS (
    SELECT r.event_id, r.hour, e.key, NULLIF(e.value, 'null'::jsonb)::text AS value
    FROM rows AS r CROSS JOIN LATERAL jsonb_each(r.data) AS e
    WHERE length(e.key) <= %(longest_key)s
),
sizes AS (SELECT event_id, hour, count(*) AS logs FROM rows GROUP BY 1, 2),
keys AS (
    SELECT p.event_id, p.hour, p.key,
        count(DISTINCT p.value) <= %(max_values)s
        AND %(min_logs)s * count(DISTINCT p.value) <= min(s.logs) AS kept
    FROM pairs AS p JOIN sizes AS s ON s.event_id = p.event_id AND s.hour = p.hour
    GROUP BY 1, 2, 3
),
cells AS (
    SELECT k.event_id, k.hour, k.key, r.count, r.number,
        COALESCE(NULLIF(r.data -> k.key, 'null'::jsonb)::text, '') AS value
    FROM keys AS k JOIN rows AS r ON r.event_id = k.event_id AND r.hour = k.hour
    WHERE k.kept
),
crowded AS (
    SELECT event_id, hour, array_agg(key ORDER BY key) AS keys FROM keys WHERE NOT kept
    GROUP BY 1, 2
)
SELECT r.event_id, r.hour, NULL, NULL, sum(r.count)::bigint,
    COALESCE(sum(r.count) FILTER (WHERE r.number IS NOT NULL), 0)::bigint,
    array_agg(DISTINCT r.number) FILTER (WHERE r.number IS NOT NULL), c.keys
FROM rows AS r LEFT JOIN crowded AS c ON c.event_id = r.event_id AND c.hour = r.hour
GROUP BY r.event_id, r.hour, c.keys
UNION ALL
SELECT NULL, hour, NULL, NULL, sum(count)::bigint,
    COALESCE(sum(count) FILTER (WHERE number IS NOT NULL), 0)::bigint,
    array_agg(DISTINCT number) FILTER (WHERE number IS NOT NULL), NULL
FROM rows GROUP BY hour
UNION ALL
SELECT event_id, hour, key, value, sum(count)::bigint,
    COALESCE(sum(count) FILTER (WHERE number IS NOT NULL), 0)::bigint,
    array_agg(DISTINCT number) FILTER (WHERE number IS NOT NULL), NULL
FROM cells GROUP BY 1, 2, 3, 4
"""  # noqa: S608


def sets_ready() -> bool:
    """True where sets are built and read (PostgreSQL)."""
    return connection.vendor == "postgresql"


def build_user_sets(
    *, now: dt.datetime, tenants: QuerySet | None = None, since: dt.datetime | None = None
) -> int:
    """Build the sets of every closed hour (from `since`, when given) that has rows and
    none yet (an hour with an increment pending waits for the fold), per tenant, newest
    first: recent ranges gain first; returns the number of hours built."""
    if not sets_ready():
        return 0
    built = 0
    for tenant in for_each_tenant(tenants):
        done = scope_to_tenant(HourlyUserSet.objects.filter(event__isnull=True), tenant)
        closed = HourlyCount.objects.filter(half_open("hour", since, closed_before(now)))
        hours = list(
            scope_to_tenant(closed, tenant)
            .exclude(hour__in=done.values("hour"))
            .order_by("hour")
            .values_list("hour", flat=True)
            .distinct()
        )
        for first, last in reversed(list(hour_runs(hours, BUILD_BATCH))):
            with transaction.atomic(), connection.cursor() as cursor:
                lock_sketches(tenant.pk)
                built += _build(cursor, tenant.pk, first, last)
    return built


def _build(cursor, tenant_id: int, first: dt.datetime, last: dt.datetime) -> int:
    """The sets of the hours [first, last] without a pending increment, in the caller's
    transaction; returns the number of hours built."""
    params = {
        "tenant": tenant_id,
        "first": first,
        "last": last,
        "max_values": MAX_VALUES,
        "min_logs": MIN_LOGS_PER_VALUE,
        "longest_key": HourlyPropertyUserSet._meta.get_field("key").max_length,
    }
    cursor.execute(_NUMBER, params)
    cursor.execute(_ROWS, params)
    hours, properties = [], []
    for event_id, hour, key, value, events, user_events, numbers, crowded in cursor.fetchall():
        columns = {
            "tenant_id": tenant_id,
            "event_id": event_id,
            "hour": hour,
            "events": events,
            "user_events": user_events,
            "users": BitMap64(numbers or ()).serialize(),
        }
        if key is None:
            hours.append(HourlyUserSet(crowded_keys=crowded or [], **columns))
        else:
            properties.append(HourlyPropertyUserSet(key=key, value=value, **columns))
    HourlyUserSet.objects.bulk_create(hours, batch_size=2000)
    HourlyPropertyUserSet.objects.bulk_create(properties, batch_size=2000)
    return sum(1 for row in hours if row.event_id is None)


def forget_numbers(*, tenant_id: int, distinct_ids: Iterable[str]) -> int:
    """Delete the numbers of those of `distinct_ids` (the tenant's) that no log has any
    more — a deletion, a retention purge, an erasure took their last: a number without
    events would only keep the id, which names a person. The sets that hold it are those
    of the deleted logs' hours, which the fold deletes with the deletion's increments; a
    later event gets a new number. Under the tenant's sketch lock, as builds give
    numbers; returns how many were deleted."""
    if not sets_ready():  # no numbers are given elsewhere
        return 0
    ids = sorted(set(distinct_ids) - {""})
    logs = scope_to_tenants(
        EventLog.objects.filter(distinct_id=OuterRef("distinct_id")), [tenant_id]
    )
    unused = scope_to_tenants(UserNumber.objects.all(), [tenant_id]).filter(~Exists(logs))
    forgotten = 0
    for start in range(0, len(ids), FORGET_BATCH):
        with transaction.atomic():
            lock_sketches(tenant_id)
            batch = unused.filter(distinct_id__in=ids[start : start + FORGET_BATCH])
            forgotten += batch.delete()[0]
    return forgotten


class UserSets(NamedTuple):
    """A tenant's sets, the pending increments that make a set stale, its events and
    its users' numbers: what the reader reads, each scoped to the tenant."""

    hours: QuerySet[HourlyUserSet]
    properties: QuerySet[HourlyPropertyUserSet]
    pending: QuerySet[HourlyCountIncrement]
    events: QuerySet[Event]
    numbers: QuerySet[UserNumber]


def tenant_sets(scoped: Callable[[QuerySet], QuerySet]) -> UserSets:
    """A tenant's sets and what their readers need beside them, each filtered by
    `scoped` (a view's tenant filter)."""
    return UserSets(
        hours=scoped(HourlyUserSet.objects.all()),
        properties=scoped(HourlyPropertyUserSet.objects.all()),
        pending=scoped(HourlyCountIncrement.objects.all()),
        events=scoped(Event.objects.all()),
        numbers=scoped(UserNumber.objects.all()),
    )


def whole_hours(lower: dt.datetime, upper: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The first and the end of the whole UTC hours inside [lower, upper): the hours a
    set can answer for; the window's partial first and last hours are read as logs."""
    first = utc_hour(lower)
    return (first if first == lower else first + HOUR), utc_hour(upper)


def hours_between(first: dt.datetime, end: dt.datetime) -> Iterable[dt.datetime]:
    hour = first
    while hour < end:
        yield hour
        hour += HOUR


def stretches(
    lower: dt.datetime | None,
    upper: dt.datetime | None,
    first: dt.datetime,
    end: dt.datetime,
    hours: list[dt.datetime],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The half-open ranges of instants to read from the logs: runs of `hours` (sorted),
    and [lower, first) and [end, upper), the window's partial hours, when given."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    if lower is not None and lower < first:
        spans.append((lower, first))
    for hour in hours:
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + HOUR)
        else:
            spans.append((hour, hour + HOUR))
    if upper is not None and end < upper:
        if spans and spans[-1][1] == end:
            spans[-1] = (spans[-1][0], upper)
        else:
            spans.append((end, upper))
    return spans
