"""Multi-row writes for the ingestion hot path: the logs of a request and its counter
increments, one statement on PostgreSQL (store_logs).

PostgreSQL gets `INSERT … SELECT FROM unnest(<one array per column>)`: ten bound
parameters whatever the batch size, so neither psycopg nor the server parses a
statement with thousands of placeholders. SQLite, and Citus (which routes a VALUES
insert to its shard), get multi-row VALUES lists.
Values are adapted here directly (no model instances), as Django would store them.
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from django.db import connection, transaction

from core.sharding import is_sharded
from core.sql import server_side_cursor
from events.accounting import ACCEPTED, DUPLICATE, request_outcome
from events.models import Event, EventLog
from events.rollups import (
    Tally,
    deltas_of_rows,
    hourly_counts_apply,
    increment_ctes,
    increment_parameters,
    ingestion_counts_apply,
)

VALUES_CHUNK = 500  # rows per statement: 10 columns, under SQLite's variable limit


class LogRow(NamedTuple):
    """One event log to insert; field names and order are EventLog's columns."""

    tenant_id: int
    event_id: int
    uuid: UUID
    timestamp: Any  # aware datetime
    received_at: Any  # aware datetime
    count: int
    distinct_id: str
    data: dict
    created_by_id: int | None
    api_key_id: int | None

    def to_log(self, *, pk: int, event_name: str) -> EventLog:
        """The stored log as an (unsaved) instance, to answer without reading it back."""
        event = Event(id=self.event_id, tenant_id=self.tenant_id, name=event_name)
        return EventLog(pk=pk, event=event, **self._asdict() | {"event_id": self.event_id})


_FIELDS = [EventLog._meta.get_field(attname) for attname in LogRow._fields]


def store_logs(
    rows: Sequence[LogRow], *, tenant_id: int, received: dt.datetime, rejected: Tally
) -> dict[UUID, int]:
    """Insert `rows` (at most once per uuid: a uuid the tenant has, or a repeat within
    `rows`, is skipped, the first of equal uuids stored) and append the request's
    counter increments (events.rollups): the inserted logs' hours, and its accounting —
    accepted the inserted rows, duplicate the others, and the `rejected` items its caller
    refused. PostgreSQL: one statement (the logs' CTE feeding the increments' CTEs), which
    outside a transaction block commits by itself: three writes, one round trip, and no
    BEGIN/COMMIT trips. SQLite, and Citus: the same writes as multi-row inserts in one
    transaction (Citus sends each to the tenant's shard, where the single statement
    would travel through the coordinator and commit in two phases). {uuid: id} inserted."""
    if connection.vendor == "postgresql" and not is_sharded():
        return _store_postgresql(rows, tenant_id=tenant_id, received=received, rejected=rejected)
    with transaction.atomic():
        inserted = _insert_logs_values(rows)
        first = {}
        for row in rows:
            first.setdefault(row.uuid, row)
        hourly_counts_apply(deltas_of_rows(first[uuid] for uuid in inserted))
        items = +(
            Counter({ACCEPTED: len(inserted), DUPLICATE: len(rows) - len(inserted)}) + rejected
        )
        requests = Counter({request_outcome(items): 1})
        ingestion_counts_apply(
            tenant_id=tenant_id, received=received, items=items, requests=requests
        )
    return inserted


def _store_postgresql(
    rows: Sequence[LogRow], *, tenant_id: int, received: dt.datetime, rejected: Tally
) -> dict[UUID, int]:
    params = {f"c{i}": column for i, column in enumerate(_columns(rows))}
    params |= increment_parameters(
        tenant_id=tenant_id, received=received, valid=len(rows), rejected=rejected
    )
    with server_side_cursor() as cursor:
        cursor.execute(_store_sql(), params)
        return {uuid: pk for pk, uuid in cursor.fetchall()}


@cache
def _store_sql() -> str:
    """The PostgreSQL statement of store_logs, built once per process: the same text every
    time, so psycopg prepares it after a few uses."""
    arrays = ", ".join(
        f"%(c{i})b::{field.db_type(connection)}[]" for i, field in enumerate(_FIELDS)
    )
    # Only identifiers and types from model metadata are interpolated; values are bound.
    return (
        f"WITH logs AS ({_head()}SELECT * FROM unnest({arrays})"  # noqa: S608
        f"{_tail('event_id', 'timestamp', 'count')}), {increment_ctes(logs='logs')} "
        f"SELECT id, uuid FROM logs"
    )


def _insert_logs_values(rows: Sequence[LogRow]) -> dict[UUID, int]:
    """Insert `rows`, skipping uuids the tenant already has (`ON CONFLICT DO NOTHING`);
    returns {uuid: id} of the rows inserted by this call. Of equal uuids in `rows`,
    the first is the one stored."""
    with connection.cursor() as cursor:
        inserted: dict[UUID, int] = {}
        for start in range(0, len(rows), VALUES_CHUNK):
            chunk = rows[start : start + VALUES_CHUNK]
            cursor.execute(_values_sql(len(chunk)), [v for row in chunk for v in _values(row)])
            inserted.update((_uuid(value), pk) for pk, value in cursor.fetchall())
        return inserted


def _columns(rows: Sequence[LogRow]) -> list[list]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    data = LogRow._fields.index("data")
    columns[data] = [orjson.dumps(value).decode() for value in columns[data]]
    return columns


def _values(row: LogRow) -> list:
    ops = connection.ops
    return [
        row.tenant_id,
        row.event_id,
        row.uuid if connection.vendor == "postgresql" else row.uuid.hex,
        ops.adapt_datetimefield_value(row.timestamp),
        ops.adapt_datetimefield_value(row.received_at),
        row.count,
        row.distinct_id,
        orjson.dumps(row.data).decode(),
        row.created_by_id,
        row.api_key_id,
    ]


def _uuid(value: UUID | str) -> UUID:
    """A returned uuid: PostgreSQL's driver gives a UUID, SQLite its hex text."""
    return value if isinstance(value, UUID) else UUID(value)


def _head() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)
    return f"INSERT INTO {quote(EventLog._meta.db_table)} ({columns}) "


def _tail(*returning: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in ("id", "uuid", *returning))
    return f" ON CONFLICT ({quote('tenant_id')}, {quote('uuid')}) DO NOTHING RETURNING {columns}"


def _values_sql(row_count: int) -> str:
    placeholders = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
    return f"{_head()}VALUES {', '.join([placeholders] * row_count)}{_tail()}"
