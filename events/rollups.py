"""The counters, HourlyCount and IngestionCount: every write to them is here.

A transaction that stores or deletes logs appends its increments to
HourlyCountIncrement / IngestionCountIncrement: plain inserts, no conflict target, so
concurrent requests of one tenant never wait for each other on a counter row (an
upsert of the same bucket by every request did exactly that). `fold_counters` moves
appended increments into the counter tables, atomically and with SKIP LOCKED, from the
jobs process every FOLD_INTERVAL_SECONDS and opportunistically after ingestion
(`fold_soon`), so the increment tables stay small without a jobs process too. Readers
sum the *Total views (counters + increments): exact at every instant, since an
increment commits with its logs and a fold moves it in one transaction. The same fold
also adds the hourly increments to DailyCount by UTC day, for long ranges, and deletes
the user sketches of the past hours it changed (events.sketches).

Changes are kept per quarter hour (Deltas) and stored per hour with cumulative
quarter-hour columns (first_15, first_30, first_45: see events.models.FirstMinutes).

Also here, the one decision of which rows a stats query reads (`stats_source`), and
where a zone's local hours begin within a UTC hour (`hour_split`).
"""

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache, partial
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import DateTimeField, Sum
from django.db.models.functions import ExtractMinute, Trunc
from django.db.models.lookups import LessThan
from django.utils import timezone

from core.locks import lock_until_commit, try_share_until_commit
from core.ranges import utc_hour
from core.sharding import is_sharded
from core.sql import ByDay, append, fold, utc_hour_of_day_sql
from events.models import (
    HOURS_BEFORE,
    DailyCount,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    IngestionCount,
    IngestionCountIncrement,
)
from events.sketches import forget_hours

logger = logging.getLogger(__name__)

Source = Literal["auto", "rollup", "raw"]
StatsSource = Literal["rollup", "raw"]  # what a stats answer was read from (X-Stats-Source)
# (tenant_id, event_id, start of the UTC quarter hour) → change in count
Deltas = Counter[tuple[int, int, dt.datetime]]
# (outcome, reason) → items or requests; reason is "" unless the outcome is "rejected"
Tally = Counter[tuple[str, str]]
HOURLY_KEYS = ("tenant_id", "event_id", "hour")
FIRST_MINUTES = (15, 30, 45)  # HourlyCount's cumulative columns, first_15 …
HOURLY_AMOUNTS = ("count", *(f"first_{minutes}" for minutes in FIRST_MINUTES))
DAILY_AMOUNTS = ("count", *HOURS_BEFORE)  # DailyCount's: before_<h> counts from 01:00 on
INGESTION_KEYS = ("tenant_id", "hour", "outcome", "reason")
FOLD_BATCH = 10_000  # increments moved per fold transaction
Outcome = IngestionCount.Outcome


def utc_quarter(instant: dt.datetime) -> dt.datetime:
    utc = instant.astimezone(dt.UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def deltas_of_rows(rows: Iterable[EventLog], *, sign: int = 1) -> Deltas:
    """Rollup changes for log instances held in memory (ingestion)."""
    deltas: Deltas = Counter()
    for row in rows:
        deltas[(row.tenant_id, row.event_id, utc_quarter(row.timestamp))] += sign * row.count
    return deltas


def deltas_of_queryset(logs, *, sign: int = 1) -> Deltas:
    """Rollup changes for stored logs, aggregated in SQL (deletion)."""
    minute = ExtractMinute("timestamp", tzinfo=dt.UTC)
    rows = (
        logs.order_by()
        .annotate(hour=Trunc("timestamp", "hour", output_field=DateTimeField(), tzinfo=dt.UTC))
        .values_list("tenant_id", "event_id", "hour")
        .annotate(
            total=Sum("count"),
            **{
                f"first_{minutes}": Sum("count", filter=LessThan(minute, minutes), default=0)
                for minutes in FIRST_MINUTES
            },
        )
    )
    return quarter_deltas(rows, sign=sign)


def quarter_deltas(rows: Iterable[tuple], *, sign: int = 1) -> Deltas:
    """Deltas of rollup rows (tenant, event, hour, count, first_15, first_30, first_45)."""
    deltas: Deltas = Counter()
    for tenant, event, hour, *cumulative in rows:
        total, *firsts = cumulative
        before = 0
        for quarter, upto in enumerate((*firsts, total)):
            if upto - before:
                deltas[(tenant, event, hour + dt.timedelta(minutes=15 * quarter))] += sign * (
                    upto - before
                )
            before = upto
    return deltas


def hourly_rows(deltas: Deltas) -> list[tuple]:
    """`deltas` as rollup rows, (tenant, event, hour, count, first_15, first_30, first_45),
    sorted; hours whose quarters are all unchanged are left out."""
    quarters: dict[tuple, list[int]] = {}
    for (tenant, event, start), change in deltas.items():
        hour = quarters.setdefault((tenant, event, start.replace(minute=0)), [0, 0, 0, 0])
        hour[start.minute // 15] += change
    return [
        (*key, sum(changes), *(sum(changes[:n]) for n in (1, 2, 3)))
        for key, changes in sorted(quarters.items())
        if any(changes)
    ]


def daily_rows(deltas: Deltas) -> dict[tuple[int, int, dt.date], tuple[int, ...]]:
    """`deltas` as DailyCount rows: (tenant, event, UTC day) → (count, before_1, …,
    before_23); days whose amounts are all zero are left out."""
    days: dict[tuple[int, int, dt.date], list[int]] = {}
    for (tenant, event, quarter), change in deltas.items():
        utc = quarter.astimezone(dt.UTC)
        amounts = days.setdefault((tenant, event, utc.date()), [0] * len(DAILY_AMOUNTS))
        amounts[0] += change
        for hour in range(utc.hour + 1, 24):
            amounts[hour] += change
    return {key: tuple(amounts) for key, amounts in days.items() if any(amounts)}


def hourly_counts_apply(deltas: Deltas) -> None:
    """Append `deltas` (negative for deleted logs) as increments of HourlyCount. Run it in
    the transaction that inserts or deletes the logs: they commit together."""
    append(HourlyCountIncrement, fields=(*HOURLY_KEYS, *HOURLY_AMOUNTS), rows=hourly_rows(deltas))


def ingestion_counts_apply(
    *, tenant_id: int, received: dt.datetime, items: Tally, requests: Tally
) -> None:
    """Append `items` and `requests` (by outcome and reason) as increments of
    IngestionCount for the UTC hour of `received`."""
    hour = utc_hour(received)
    rows = [
        (tenant_id, hour, outcome, reason, items[(outcome, reason)], requests[(outcome, reason)])
        for outcome, reason in sorted(items.keys() | requests.keys())
    ]
    append(IngestionCountIncrement, fields=(*INGESTION_KEYS, "events", "requests"), rows=rows)


def increment_ctes(*, logs: str, condition: str | None = None) -> str:
    """Members of a WITH clause that append a request's counter increments in the very
    statement that inserts its logs (events.bulk, PostgreSQL): HourlyCount increments of
    the logs the CTE `logs` returned (event_id, timestamp, count: only those inserted),
    and the request's IngestionCount increments — `accepted` the inserted logs (and the
    request), `duplicate` the %(valid)s rows less those, `rejected` by reason — only
    where SQL `condition` holds, if given. Named parameters: tenant_id, hour, valid,
    accepted, duplicate, rejected, reasons, items."""
    q = connection.ops.quote_name
    hourly = q(HourlyCountIncrement._meta.db_table)
    accounting = q(IngestionCountIncrement._meta.db_table)
    inserted = f"(SELECT count(*) FROM {logs})"  # noqa: S608
    # Only identifiers from model metadata and placeholders are interpolated.
    minute = "date_part('minute', timestamp AT TIME ZONE 'UTC')"
    firsts = "".join(
        f", COALESCE(SUM(count) FILTER (WHERE {minute} < {minutes}), 0)"
        for minutes in FIRST_MINUTES
    )
    return (
        f"hourly_increments AS (INSERT INTO {hourly} "  # noqa: S608
        f"(tenant_id, event_id, hour, {', '.join(HOURLY_AMOUNTS)}) "
        f"SELECT %(tenant_id)s, event_id, date_trunc('hour', timestamp, 'UTC'), SUM(count)"
        f"{firsts} FROM {logs} GROUP BY event_id, 3), "
        f"ingestion_increments AS (INSERT INTO {accounting} "
        f"(tenant_id, hour, outcome, reason, events, requests) "
        f"SELECT %(tenant_id)s, %(hour)s, outcome, reason, events, requests FROM ("
        f"SELECT %(accepted)s::text, ''::text, {inserted}, 1 "
        f"UNION ALL SELECT %(duplicate)s::text, ''::text, %(valid)s - {inserted}, 0 "
        f"UNION ALL SELECT %(rejected)s::text, reason, items, 0 "
        f"FROM unnest(%(reasons)s::text[], %(items)s::bigint[]) AS r(reason, items)"
        f") AS outcomes(outcome, reason, events, requests) WHERE (events > 0 OR requests > 0)"
        f"{f' AND {condition}' if condition else ''})"
    )


def increment_parameters(
    *, tenant_id: int, received: dt.datetime, valid: int, rejected: Tally
) -> dict:
    """The named parameters of `increment_ctes`; `rejected` counts items by (outcome, reason)."""
    reasons = sorted(reason for outcome, reason in rejected if outcome == Outcome.REJECTED)
    return {
        "tenant_id": tenant_id,
        "hour": utc_hour(received),
        "valid": valid,
        "accepted": Outcome.ACCEPTED.value,
        "duplicate": Outcome.DUPLICATE.value,
        "rejected": Outcome.REJECTED.value,
        "reasons": reasons,
        "items": [rejected[(Outcome.REJECTED.value, reason)] for reason in reasons],
    }


def fold_counters(*, limit: int | None = None) -> int:
    """Move appended increments into HourlyCount and IngestionCount until none is left
    (or `limit` of each table were moved), FOLD_BATCH per transaction. Safe to run in
    several processes at once. Returns the number of increments moved."""
    moved = 0
    now = timezone.now()
    for pending, target, keys, amounts, by_day, after, may_fold in (
        (
            HourlyCountIncrement,
            HourlyCount,
            HOURLY_KEYS,
            HOURLY_AMOUNTS,
            _by_day(),
            lambda totals: forget_hours(totals, now=now),
            _may_fold,
        ),
        (
            IngestionCountIncrement,
            IngestionCount,
            INGESTION_KEYS,
            ("events", "requests"),
            None,
            None,
            None,
        ),
    ):
        left = limit
        for tenant_id in _fold_scopes(pending):
            while left is None or left > 0:
                batch = FOLD_BATCH if left is None else min(FOLD_BATCH, left)
                done = fold(
                    pending,
                    target,
                    keys=keys,
                    amounts=amounts,
                    limit=batch,
                    by_day=by_day,
                    tenant_id=tenant_id,
                    after=after,
                    guard=partial(may_fold, tenant_id) if may_fold else None,
                )
                moved += done
                left = None if left is None else left - done
                if done < batch:
                    break
    return moved


def pause_folds(*, tenant_id: int) -> None:
    """Until the current transaction ends, no fold moves the tenant's hourly increments:
    wait for the folds under way, then hold them off (they skip their turn). On a
    database not sharded by tenant a fold takes every tenant's increments at once, so
    there every fold waits. A deletion of an event type calls it before it locks
    anything a fold locks: a fold locks counter rows, then the tenant's sketch lock, then
    (its deferred key check, at commit) the event; the deletion needs all three."""
    lock_until_commit(_folds_lock_name(tenant_id if is_sharded() else None))


def _may_fold(tenant_id: int | None) -> bool:
    """In a fold's transaction, first: whether no pause_folds holds it off."""
    return try_share_until_commit(_folds_lock_name(tenant_id))


def _folds_lock_name(tenant_id: int | None) -> str:
    return "folds" if tenant_id is None else f"folds:{tenant_id}"


def vacuum_increments() -> bool:
    """Reclaim the dead rows folds leave in the increment tables (PostgreSQL; outside a
    transaction). Every counter read sums these tables, and its scan visits every dead
    row still in them: at 10 M logs, 47 k of them (a minute of ingest, what autovacuum
    may leave) made a year's event_frequency 4x slower (89 against 23 ms). The jobs
    process runs it after each fold (`manage.py fold_counters`); a table another VACUUM
    holds is skipped. Returns whether it ran."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    tables = ", ".join(
        connection.ops.quote_name(model._meta.db_table)
        for model in (HourlyCountIncrement, IngestionCountIncrement)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (SKIP_LOCKED) {tables}")
    return True


def _fold_scopes(pending: type[models.Model]) -> list[int | None]:
    """[None]: fold every tenant's increments together; on a database sharded by tenant,
    the tenants with increments, one by one (each fold then stays inside one shard)."""
    if not is_sharded():
        return [None]
    return list(pending.objects.values_list("tenant_id", flat=True).distinct().order_by())


def _by_day() -> ByDay:
    """DailyCount as the fold keeps it: the hourly increments by UTC day, each also
    counted in the before_<h> columns of the hours after its own."""
    q = connection.ops.quote_name
    hour_of_day, count = utc_hour_of_day_sql(q("hour")), q("count")
    before = {
        name: f"CASE WHEN {hour_of_day} < {hour} THEN {count} ELSE 0 END"
        for hour, name in enumerate(HOURS_BEFORE, start=1)
    }
    return ByDay(DailyCount, hour="hour", day="day", amounts={"count": count, **before})


_last_fold = 0.0
_fold_lock = threading.Lock()


def fold_soon() -> None:
    """After an ingest commits: fold if this process has not for FOLD_INTERVAL_SECONDS.
    One thread per process does it, at most FOLD_BATCH increments, and a failure is only
    logged (the increments stay, exact, for the next fold)."""
    global _last_fold
    interval = settings.EVENTTRACKER["FOLD_INTERVAL_SECONDS"]
    now = time.monotonic()
    if now - _last_fold < interval or not _fold_lock.acquire(blocking=False):
        return
    try:
        _last_fold = now
        fold_counters(limit=FOLD_BATCH)
    except DatabaseError:
        logger.warning("Opportunistic fold failed; the next one will retry.", exc_info=True)
    finally:
        _fold_lock.release()


def after_ingest_commit() -> None:
    """Schedule `fold_soon` for when the current transaction commits."""
    transaction.on_commit(fold_soon, robust=True)


def hour_split(
    tz: ZoneInfo, *, start: dt.date | None = None, end: dt.date | None = None
) -> int | None:
    """The minute of the UTC hour at which `tz`'s local hours begin, for data of the days
    `start` to `end` (open: 1970 to 2037): 0 in whole-hour zones (UTC, Europe, the
    Americas' main zones), 30 in India or Newfoundland, 15 in Nepal (since 1986). None
    when it is not a multiple of 15 minutes or changed in those years: the rollup cannot
    split its hours there, raw rows answer."""
    first = max(start.year - 1, 1970) if start else 1970
    last = min(end.year + 1, 2037) if end else 2037
    return _hour_split(tz.key, first, last)


@lru_cache(maxsize=2048)
def _hour_split(key: str, first_year: int, last_year: int) -> int | None:
    # Sampled twice a month: enough to see every standard and daylight-saving offset.
    tz = ZoneInfo(key)
    minutes = set()
    for year in range(first_year, last_year + 1):
        for month in range(1, 13):
            for day in (1, 15):
                offset = dt.datetime(year, month, day, 12, tzinfo=tz).utcoffset()
                minutes.add(-(offset or dt.timedelta()).total_seconds() / 60 % 60)
    if len(minutes) != 1:
        return None
    split = minutes.pop()
    return int(split) if split % 15 == 0 else None


def use_rollup(
    *, tz: ZoneInfo, source: Source, start: dt.date | None = None, end: dt.date | None = None
) -> bool:
    return source == "rollup" or (
        source == "auto" and hour_split(tz, start=start, end=end) is not None
    )


def stats_source(
    *,
    tz: ZoneInfo,
    in_rollup: bool = True,
    source: Source = "auto",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> StatsSource:
    """The rows a stats query of the days `start` to `end` reads, decided once: the view
    passes it to the selector and names it in X-Stats-Source. `in_rollup=False` for what
    HourlyCount does not hold (per-user metrics, ingestion counters): those are always
    read raw."""
    rollup = in_rollup and use_rollup(tz=tz, source=source, start=start, end=end)
    return "rollup" if rollup else "raw"
