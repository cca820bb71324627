"""The counters, HourlyCount and IngestionCount: every write to them is here, each an
increment applied with one upsert, never read-modify-write.

`INSERT … ON CONFLICT (tenant_id, event_id, hour) DO UPDATE SET count = count + excluded.count`
is atomic per row on PostgreSQL and SQLite alike, so concurrent requests that
touch the same bucket both land. Callers run it inside the transaction that
inserts or deletes the logs, so the counters and the raw rows commit together.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from django.db.models import DateTimeField, Sum
from django.db.models.functions import Trunc

from accounts.tenancy import scope_to_tenants
from core.sql import increment
from events.models import EventLog, HourlyCount, IngestionCount

Source = Literal["auto", "rollup", "raw"]
StatsSource = Literal["rollup", "raw"]  # what a stats answer was read from (X-Stats-Source)
# (tenant_id, event_id, UTC hour) → change in count
Deltas = Counter[tuple[int, int, dt.datetime]]
# (outcome, reason) → items or requests; reason is "" unless the outcome is "rejected"
Tally = Counter[tuple[str, str]]


def utc_hour(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def deltas_of_rows(rows: Iterable[EventLog], *, sign: int = 1) -> Deltas:
    """Rollup changes for log instances held in memory (ingestion)."""
    deltas: Deltas = Counter()
    for row in rows:
        deltas[(row.tenant_id, row.event_id, utc_hour(row.timestamp))] += sign * row.count
    return deltas


def deltas_of_queryset(logs, *, sign: int = 1) -> Deltas:
    """Rollup changes for stored logs, aggregated in SQL (deletion)."""
    rows = (
        logs.order_by()
        .annotate(hour=Trunc("timestamp", "hour", output_field=DateTimeField(), tzinfo=dt.UTC))
        .values_list("tenant_id", "event_id", "hour")
        .annotate(total=Sum("count"))
    )
    return Counter({(tenant, event, hour): sign * total for tenant, event, hour, total in rows})


def hourly_counts_apply(deltas: Deltas) -> None:
    """Add `deltas` to HourlyCount (upsert), then drop buckets that fell to zero."""
    # Sorted: concurrent writers lock buckets in the same order (no deadlock).
    items = sorted((key, value) for key, value in deltas.items() if value)
    if not items:
        return
    increment(
        HourlyCount,
        keys=("tenant_id", "event_id", "hour"),
        amounts=("count",),
        rows=[(*key, value) for key, value in items],
    )
    emptied = [key for key, value in items if value < 0]
    if emptied:
        # A bucket at zero means "no logs": drop it so both read paths agree on which
        # buckets exist. The filter is a superset of `emptied`, but only zero rows match.
        zeros = HourlyCount.objects.filter(
            event_id__in={event for _, event, _ in emptied},
            hour__in={hour for _, _, hour in emptied},
            count__lte=0,
        )
        scope_to_tenants(zeros, {tenant for tenant, _, _ in emptied}).delete()


def ingestion_counts_apply(
    *, tenant_id: int, received: dt.datetime, items: Tally, requests: Tally
) -> None:
    """Add `items` and `requests` (by outcome and reason) to IngestionCount for the UTC
    hour of `received` (upsert)."""
    hour = utc_hour(received)
    rows = [
        (tenant_id, hour, outcome, reason, items[(outcome, reason)], requests[(outcome, reason)])
        for outcome, reason in sorted(items.keys() | requests.keys())
    ]
    increment(
        IngestionCount,
        keys=("tenant_id", "hour", "outcome", "reason"),
        amounts=("events", "requests"),
        rows=rows,
    )


@lru_cache(maxsize=512)
def whole_hour_zone(key: str) -> bool:
    """True if every UTC offset `key` used from 1970 to 2037 is a whole number of hours
    (sampled twice a month, enough to see every standard and daylight-saving offset)."""
    tz = ZoneInfo(key)
    for year in range(1970, 2038):
        for month in range(1, 13):
            for day in (1, 15):
                offset = dt.datetime(year, month, day, 12, tzinfo=tz).utcoffset()
                if offset is None or offset.total_seconds() % 3600:
                    return False
    return True


def use_rollup(*, tz: ZoneInfo, source: Source) -> bool:
    return source == "rollup" or (source == "auto" and whole_hour_zone(tz.key))


def stats_source(*, tz: ZoneInfo, in_rollup: bool = True, source: Source = "auto") -> StatsSource:
    """The rows a stats query reads, decided once: the view passes it to the selector
    and names it in X-Stats-Source. `in_rollup=False` for what HourlyCount does not
    hold (per-user metrics, ingestion counters): those are always read raw."""
    return "rollup" if in_rollup and use_rollup(tz=tz, source=source) else "raw"
