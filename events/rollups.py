"""The HourlyCount rollup: increments applied with one upsert, never read-modify-write.

`INSERT … ON CONFLICT (tenant_id, event_id, hour) DO UPDATE SET count = count + excluded.count`
is atomic per row on PostgreSQL and SQLite alike, so concurrent requests that
touch the same bucket both land. Callers run it inside the transaction that
inserts or deletes the logs, so the rollup and the raw rows commit together.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence

from django.db import connection, models
from django.db.models import DateTimeField, Sum
from django.db.models.functions import Trunc

from events.bulk import server_side_cursor
from events.models import EventLog, HourlyCount

UPSERT_CHUNK = 500
# (tenant_id, event_id, UTC hour) → change in count
Deltas = Counter[tuple[int, int, dt.datetime]]


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
        HourlyCount.objects.filter(
            tenant_id__in={tenant for tenant, _, _ in emptied},
            event_id__in={event for _, event, _ in emptied},
            hour__in={hour for _, _, hour in emptied},
            count__lte=0,
        ).delete()


def increment(
    model: type[models.Model],
    *,
    keys: Sequence[str],
    amounts: Sequence[str],
    rows: Sequence[tuple],
) -> None:
    """Add each row's amounts to the counter row of its key, creating it if missing:
    `INSERT … ON CONFLICT (<keys>) DO UPDATE SET a = a + excluded.a`, atomic per row.

    `keys` must be the columns of a unique constraint of `model`; each row holds the
    key values then the amounts, in that order. Pass rows sorted by key so that
    concurrent writers lock counter rows in the same order (no deadlock)."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in (*keys, *amounts)]
    if connection.vendor == "postgresql":
        # One statement, one array parameter per column, bound on the server (events.bulk).
        # The column types come from model metadata, like every identifier here.
        types = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
        source = f"SELECT * FROM unnest({types})"  # noqa: S608
        columns = [list(column) for column in zip(*rows, strict=True)]
        with server_side_cursor() as cursor:
            cursor.execute(_increment_sql(model, keys, amounts, source=source), columns)
        return
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[start : start + UPSERT_CHUNK]
            params = [
                field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            values = ", ".join([row_sql] * len(chunk))
            cursor.execute(_increment_sql(model, keys, amounts, source=f"VALUES {values}"), params)


def _increment_sql(
    model: type[models.Model], keys: Sequence[str], amounts: Sequence[str], *, source: str
) -> str:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key = ", ".join(quote(model._meta.get_field(name).column) for name in keys)
    columns = [quote(model._meta.get_field(name).column) for name in amounts]
    updates = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in columns)
    # Only identifiers from model metadata and placeholders are interpolated.
    return (
        f"INSERT INTO {table} ({key}, {', '.join(columns)}) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
