"""Multi-row writes for the ingestion hot path, one statement per chunk.

PostgreSQL gets `INSERT … SELECT FROM unnest(<one array per column>)`: ten bound
parameters whatever the batch size, so neither psycopg nor the server parses a
statement with thousands of placeholders. SQLite gets a multi-row VALUES list.
Values are adapted here directly (no model instances), as Django would store them.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from django.db import connection

from core.sql import server_side_cursor
from events.models import Event, EventLog

SQLITE_CHUNK = 500  # rows per statement: 10 columns, under SQLite's variable limit


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


def insert_logs(rows: Sequence[LogRow]) -> dict[UUID, int]:
    """Insert `rows`, skipping uuids the tenant already has (`ON CONFLICT DO NOTHING`);
    returns {uuid: id} of the rows inserted by this call. Of equal uuids in `rows`,
    the first is the one stored."""
    if not rows:
        return {}
    if connection.vendor == "postgresql":
        with server_side_cursor() as cursor:
            cursor.execute(_unnest_sql(), _columns(rows))
            return {uuid: pk for pk, uuid in cursor.fetchall()}
    with connection.cursor() as cursor:
        inserted: dict[UUID, int] = {}
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = rows[start : start + SQLITE_CHUNK]
            cursor.execute(_values_sql(len(chunk)), [v for row in chunk for v in _sqlite(row)])
            inserted.update((UUID(value), pk) for pk, value in cursor.fetchall())
        return inserted


def _columns(rows: Sequence[LogRow]) -> list[list]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    data = LogRow._fields.index("data")
    columns[data] = [orjson.dumps(value).decode() for value in columns[data]]
    return columns


def _sqlite(row: LogRow) -> list:
    ops = connection.ops
    return [
        row.tenant_id,
        row.event_id,
        row.uuid.hex,
        ops.adapt_datetimefield_value(row.timestamp),
        ops.adapt_datetimefield_value(row.received_at),
        row.count,
        row.distinct_id,
        orjson.dumps(row.data).decode(),
        row.created_by_id,
        row.api_key_id,
    ]


def _head() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _FIELDS)
    return f"INSERT INTO {quote(EventLog._meta.db_table)} ({columns}) "


def _tail() -> str:
    quote = connection.ops.quote_name
    return (
        f" ON CONFLICT ({quote('tenant_id')}, {quote('uuid')}) DO NOTHING "
        f"RETURNING {quote('id')}, {quote('uuid')}"
    )


def _unnest_sql() -> str:
    arrays = ", ".join(f"%b::{field.db_type(connection)}[]" for field in _FIELDS)
    # Only identifiers and types from model metadata are interpolated; values are bound.
    return f"{_head()}SELECT * FROM unnest({arrays}){_tail()}"  # noqa: S608


def _values_sql(row_count: int) -> str:
    placeholders = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
    return f"{_head()}VALUES {', '.join([placeholders] * row_count)}{_tail()}"
