"""HyperLogLog sketches of each closed UTC hour's distinct users (HourlyUserSketch), kept
for approximate active users over long ranges (stats.active_users).

PostgreSQL with the `hll` extension builds and reads them (`hll_add_agg` over
`hll_hash_text(distinct_id)`, stored as `hll_send` bytes); elsewhere there are none and
every answer is exact.

A sketch never answers for rows it has not seen:
- it is built (`build_user_sketches`, a job) only for an hour at least an hour past,
  from the rows and in the statement that checks no increment of that hour is pending
  (one snapshot: the rows it reads are exactly those the counters hold);
- the fold deletes the sketch of every older hour whose increments it moves (a late
  event, a deletion, an erasure) in the transaction that moves them (`forget_hours`);
- a reader takes a sketch only while its hour has no increment pending, else it reads
  that hour's rows.
Both writers take the tenant's sketch lock (a transaction-scoped advisory lock), so a
fold cannot miss a sketch that a build is about to commit. The exact user sets
(events.usersets) are built under the same lock and forgotten with the sketches.

The order of that lock (`lock_sketches`): a fold takes it after the counter rows it
moves, and its commit then shares (FOR KEY SHARE, the deferred key check of a new
counter row) the row of each event whose hours it moved. A transaction that waited for
the sketch lock while it held an event's row — a deletion of logs by event name, whose
FOR UPDATE also locks the joined events, or of an event type — closed a cycle with such
a fold: a deadlock on PostgreSQL, a "distributed deadlock" on Citus (the advisory lock on
the coordinator, the rows on a worker), each costing its victim a retry. So every other
transaction that takes the sketch lock takes it before any row lock: builds and
`forget_numbers` first thing, deletions right after their turn (the tenant's deletion
lock, then for an event type the folds' pause) — never the reverse, as a fold holding the
sketch lock would then wait for the pause. The fold alone locks rows first: those rows
are counters and increments, which no holder of the sketch lock waits for (an event
type's deletion, the one that deletes counter rows, pauses the folds before).
"""

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cache

from django.db import connection, transaction
from django.db.models import QuerySet

from accounts.tenancy import for_each_tenant, scope_to_tenant
from core.ranges import utc_hour
from events.models import (
    Event,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    HourlyPropertyUserSet,
    HourlyUserSet,
    HourlyUserSketch,
)

BUILD_BATCH = 48  # hours per build statement
HOUR = dt.timedelta(hours=1)
# Only identifiers from model metadata go into these.
_SKETCHES = HourlyUserSketch._meta.db_table
# What is built of closed hours, and deleted when one of them changes.
_BUILT = (_SKETCHES, HourlyUserSet._meta.db_table, HourlyPropertyUserSet._meta.db_table)
_LOGS = EventLog._meta.db_table
_PENDING = HourlyCountIncrement._meta.db_table
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('eventtracker:sketches:' || %s, 0))"
# The hours of one run [first, last] without a pending increment, from their rows (every
# such hour has some: the counters hold only hours with logs). Written without a
# correlated subquery or a set-returning function, which Citus cannot plan together.
_BUILD = f"""
INSERT INTO {_SKETCHES} (tenant_id, hour, users)
SELECT %(tenant)s, date_trunc('hour', timestamp, 'UTC'), hll_send(COALESCE(
    hll_add_agg(hll_hash_text(distinct_id)) FILTER (WHERE distinct_id <> ''), hll_empty()))
FROM {_LOGS}
WHERE tenant_id = %(tenant)s AND timestamp >= %(first)s
    AND timestamp < %(last)s + interval '1 hour'
    AND date_trunc('hour', timestamp, 'UTC') NOT IN (
        SELECT hour FROM {_PENDING} WHERE tenant_id = %(tenant)s)
GROUP BY 2
ON CONFLICT (tenant_id, hour) DO UPDATE SET users = EXCLUDED.users
"""  # noqa: S608


def hll_ready() -> bool:
    """True when this database can build and read sketches (PostgreSQL with `hll`; asked
    once per process and database: restart after `CREATE EXTENSION hll`)."""
    return connection.vendor == "postgresql" and _has_hll(connection.settings_dict["NAME"])


@cache
def _has_hll(database: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hll')")
        return cursor.fetchone()[0]


def closed_before(now: dt.datetime) -> dt.datetime:
    """Hours before this one are built: at least an hour past."""
    return utc_hour(now) - HOUR


def lock_sketches(tenant_id: int) -> None:
    """Wait for, then hold until the transaction ends, the tenant's sketch lock, before
    any row lock of the transaction (see above for why). PostgreSQL only: nothing is
    built elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(LOCK, [str(tenant_id)])


def build_user_sketches(*, now: dt.datetime, tenants: QuerySet | None = None) -> int:
    """Build the sketch of every closed hour that has rows and none yet (an hour with an
    increment pending waits for the fold), per tenant; returns the number built."""
    if not hll_ready():
        return 0
    built = 0
    for tenant in for_each_tenant(tenants):
        sketched = scope_to_tenant(HourlyUserSketch.objects.all(), tenant).values("hour")
        hours = list(
            scope_to_tenant(HourlyCount.objects.filter(hour__lt=closed_before(now)), tenant)
            .exclude(hour__in=sketched)
            .order_by("hour")
            .values_list("hour", flat=True)
            .distinct()
        )
        for first, last in hour_runs(hours, BUILD_BATCH):
            with transaction.atomic(), connection.cursor() as cursor:
                lock_sketches(tenant.pk)
                cursor.execute(_BUILD, {"tenant": tenant.pk, "first": first, "last": last})
                built += cursor.rowcount
    return built


def hour_runs(hours: list[dt.datetime], most: int) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(first, last) of each run of consecutive `hours` (sorted), at most `most` long."""
    first = last = None
    for hour in hours:
        if first is not None and last is not None:
            if hour - last == HOUR and (hour - first) // HOUR < most:
                last = hour
                continue
            yield first, last
        first = last = hour
    if first is not None and last is not None:
        yield first, last


def forget_event(event: Event) -> None:
    """Before `event` is deleted: delete what was built of its hours (its pending
    increments go with it, so no fold would)."""
    if connection.vendor != "postgresql":  # nothing is built elsewhere
        return
    hours = sorted(
        {
            hour
            for model in (HourlyCountIncrement, HourlyCount)
            for hour in scope_to_tenant(model.objects.filter(event=event), event.tenant)
            .order_by()
            .values_list("hour", flat=True)
        }
    )
    if hours:
        _forget(event.tenant_id, hours)


def forget_hours(totals: Iterable[tuple], *, now: dt.datetime) -> None:
    """In the fold's transaction: delete what was built of the hours before the current
    one whose increments it moved (`totals`: (tenant, event, hour, …) rows)."""
    if connection.vendor != "postgresql":  # nothing is built (nor aware hours: SQLite's are naive)
        return
    current = utc_hour(now)
    hours: dict[int, set[dt.datetime]] = {}
    for tenant_id, _event_id, hour, *_ in totals:
        if hour < current:
            hours.setdefault(tenant_id, set()).add(hour)
    for tenant_id in sorted(hours):  # one order of locks: no deadlock between folds
        _forget(tenant_id, sorted(hours[tenant_id]))


def _forget(tenant_id: int, hours: list[dt.datetime]) -> None:
    """Delete the sketches and the user sets (events.usersets) of `hours`."""
    lock_sketches(tenant_id)
    with connection.cursor() as cursor:
        for table in _BUILT:
            cursor.execute(
                f"DELETE FROM {table} WHERE tenant_id = %s AND hour = ANY(%s)",  # noqa: S608
                [tenant_id, hours],
            )
