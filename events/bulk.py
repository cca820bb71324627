"""Multi-row writes for the ingestion hot path: the logs of a request and its counter
increments, one statement on PostgreSQL (store_logs).

PostgreSQL gets `INSERT … SELECT FROM unnest(<one array per column>)`: ten bound
parameters whatever the batch size, so neither psycopg nor the server parses a
statement with thousands of placeholders. A batch of COPY_MIN_ROWS or more whose uuids
are all new goes by COPY instead, the increments after it in the same transaction.
SQLite, and Citus (which routes a VALUES insert to its shard), get multi-row VALUES
lists.
Values are adapted here directly (no model instances), as Django would store them.
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.models import UniqueConstraint

from accounts.credentials import TenantChanged, ensure_unchanged
from accounts.models import Tenant
from accounts.tenancy import scope_to_tenants
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
# From this many rows on, PostgreSQL stores a batch of new uuids with COPY (_copy_new_rows).
COPY_MIN_ROWS = 50


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


_FIELDS = [EventLog._meta.get_field(attname) for attname in LogRow._fields]
_COLUMNS = [field.column for field in _FIELDS]


def store_logs(
    rows: Sequence[LogRow],
    *,
    tenant_id: int,
    received: dt.datetime,
    rejected: Tally,
    unchanged: Tenant | None = None,
    duplicates: int = 0,
) -> dict[UUID, int]:
    """Insert `rows` (at most once per uuid: a uuid the tenant has, or a repeat within
    `rows`, is skipped, the first of equal uuids stored) and append the request's
    counter increments (events.rollups): the inserted logs' hours, and its accounting —
    accepted the inserted rows, duplicate the others, and the `rejected` items its caller
    refused, and `duplicates` more that its caller found without a row (their event was
    never created: events.services._duplicate). PostgreSQL: one statement (the logs' CTE
    feeding the increments' CTEs), which outside a transaction block commits by itself:
    three writes, one round trip, and no BEGIN/COMMIT trips; a batch of COPY_MIN_ROWS or
    more uuids all new to the tenant goes by COPY instead (_copy_new_rows). SQLite, and
    Citus: the same writes as multi-row inserts in one transaction (Citus sends each to
    the tenant's shard, where the single statement would travel through the coordinator
    and commit in two phases). {uuid: id} inserted.

    `unchanged`: the tenant as a cached credential had it (accounts.credentials); the
    writes happen only if its row still holds exactly that, else TenantChanged and
    nothing is written. On PostgreSQL the statement checks it, without another trip.

    EventGone, with nothing written, when an event of `rows` was deleted after its id
    was resolved (see EventGone)."""
    try:
        return _store_logs(
            rows,
            tenant_id=tenant_id,
            received=received,
            rejected=rejected,
            unchanged=unchanged,
            duplicates=duplicates,
        )
    except (IntegrityError, InternalError):
        # Only a write that committed here failed as a whole: inside an outer transaction
        # the deferred keys are checked at its commit, not here. (Citus reports a key
        # that fails at a shard's commit as an InternalError: "could not commit
        # transaction for shard".)
        if connection.in_atomic_block or _events_exist(rows, tenant_id=tenant_id):
            raise
        raise EventGone from None


class EventGone(Exception):
    """An event of the rows was deleted after their event ids were resolved (from the
    per-process cache, or read before the deletion committed): the logs' foreign key to
    it, checked as the write commits (it is deferred), failed, and nothing was written."""


def _events_exist(rows: Sequence[LogRow], *, tenant_id: int) -> bool:
    ids = {row.event_id for row in rows}
    return scope_to_tenants(Event.objects.filter(pk__in=ids), [tenant_id]).count() == len(ids)


def _store_logs(
    rows: Sequence[LogRow],
    *,
    tenant_id: int,
    received: dt.datetime,
    rejected: Tally,
    unchanged: Tenant | None,
    duplicates: int,
) -> dict[UUID, int]:
    valid = len(rows) + duplicates
    if connection.vendor == "postgresql" and not is_sharded():
        if unchanged is None and len(rows) >= COPY_MIN_ROWS:
            inserted = _copy_new_rows(
                rows, tenant_id=tenant_id, received=received, rejected=rejected, valid=valid
            )
            if inserted is not None:
                return inserted
        return _store_postgresql(
            rows,
            tenant_id=tenant_id,
            received=received,
            rejected=rejected,
            unchanged=unchanged,
            valid=valid,
        )
    with transaction.atomic():
        if unchanged is not None:
            ensure_unchanged(unchanged)
        inserted = _insert_logs_values(rows)
        first = {}
        for row in rows:
            first.setdefault(row.uuid, row)
        _append_increments(
            [first[uuid] for uuid in inserted],
            valid=valid,
            tenant_id=tenant_id,
            received=received,
            rejected=rejected,
        )
    return inserted


def _append_increments(
    stored: Sequence[LogRow], *, valid: int, tenant_id: int, received: dt.datetime, rejected: Tally
) -> None:
    """The counter increments of a request that stored `stored` of its `valid` rows (the
    others were duplicates), in the transaction that stored them."""
    hourly_counts_apply(deltas_of_rows(stored))
    items = +(Counter({ACCEPTED: len(stored), DUPLICATE: valid - len(stored)}) + rejected)
    requests = Counter({request_outcome(items): 1})
    ingestion_counts_apply(tenant_id=tenant_id, received=received, items=items, requests=requests)


def _copy_new_rows(
    rows: Sequence[LogRow], *, tenant_id: int, received: dt.datetime, rejected: Tally, valid: int
) -> dict[UUID, int] | None:
    """store_logs for a batch whose uuids are all new, the common case, with COPY: the
    server writes its rows a page at a time, where INSERT … ON CONFLICT inserts each row
    speculatively on its own (97 against 59 ms for 1000 rows at 10 M logs). The ids come
    from EventLog's sequence first (COPY returns nothing), unless the tenant has one of
    the uuids already (a retried batch: no COPY that fails half-way, leaving dead rows
    and an error in the server's log); the increments follow in the same transaction.
    None, with nothing written, when a uuid repeats in `rows` or is stored already (also
    by a concurrent request, which the COPY then waits for): the statement with ON
    CONFLICT decides those."""
    if len({row.uuid for row in rows}) < len(rows):
        return None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_next_ids_sql(), [len(rows), tenant_id, [row.uuid for row in rows]])
            ids = [pk for (pk,) in cursor.fetchall()]
            if not ids:
                return None
            # Django wraps execute's errors, not COPY's: the same IntegrityError here.
            with connection.wrap_database_errors, cursor.copy(_copy_sql()) as copy:
                for pk, values in zip(ids, map(_row_values, rows), strict=True):
                    copy.write_row((pk, *values))
            _append_increments(
                rows, valid=valid, tenant_id=tenant_id, received=received, rejected=rejected
            )
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != _UUID_UNIQUE:
            raise
        return None
    return {row.uuid: pk for row, pk in zip(rows, ids, strict=True)}


_UUID_UNIQUE = next(
    constraint.name
    for constraint in EventLog._meta.constraints
    if isinstance(constraint, UniqueConstraint) and "uuid" in constraint.fields
)


@cache
def _next_ids_sql() -> str:
    """%s ids from EventLog's sequence, or none when tenant %s has one of the uuids %s."""
    quote = connection.ops.quote_name
    table = EventLog._meta.db_table
    column = EventLog._meta.pk.column
    # Only names from model metadata are interpolated (as literals and identifiers).
    return (
        f"SELECT nextval(pg_get_serial_sequence('{table}', '{column}')) "  # noqa: S608
        f"FROM generate_series(1, %s) WHERE NOT EXISTS (SELECT FROM {quote(table)} "
        f"WHERE {quote('tenant_id')} = %s AND {quote('uuid')} = ANY(%s))"
    )


@cache
def _copy_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in (EventLog._meta.pk.column, *_COLUMNS))
    return f"COPY {quote(EventLog._meta.db_table)} ({columns}) FROM STDIN"


def _store_postgresql(
    rows: Sequence[LogRow],
    *,
    tenant_id: int,
    received: dt.datetime,
    rejected: Tally,
    unchanged: Tenant | None,
    valid: int,
) -> dict[UUID, int]:
    single = len(rows) == 1
    values = _row_values(rows[0]) if single else _columns(rows)
    params = {f"c{i}": value for i, value in enumerate(values)}
    params |= increment_parameters(
        tenant_id=tenant_id, received=received, valid=valid, rejected=rejected
    )
    guarded = unchanged is not None
    if guarded:
        params |= _guard_parameters(tuple(getattr(unchanged, name) for name in _TENANT_ATTNAMES))
    with server_side_cursor() as cursor:
        cursor.execute(_store_sql(single=single, guarded=guarded), params)
        stored = cursor.fetchall()
    if guarded and (None, None) in stored:
        raise TenantChanged
    return {uuid: pk for pk, uuid in stored}


_TENANT_FIELDS = Tenant._meta.concrete_fields
_TENANT_ATTNAMES = tuple(field.attname for field in _TENANT_FIELDS)


@lru_cache(maxsize=1024)
def _guard_parameters(values: tuple) -> dict:
    """The guard's parameters (t0…) for a tenant row holding `values`: a cached
    credential's tenant is the same row request after request, and preparing its fields
    each time was a twentieth of a single event's CPU. The dict is shared: never change it."""
    return {
        f"t{i}": field.get_db_prep_value(value, connection)
        for i, (field, value) in enumerate(zip(_TENANT_FIELDS, values, strict=True))
    }


@cache
def _store_sql(*, single: bool, guarded: bool) -> str:
    """The PostgreSQL statement of store_logs, built once per process: the same text every
    time, so psycopg prepares it (DATABASE_PREPARE_THRESHOLD). One row (most requests)
    binds a value per column; more bind an array per column, which psycopg adapts at a
    cost per array that made up a sixth of a single event's CPU. `guarded`: the writes
    happen only while the tenant's row equals the one bound as t0…, and a (NULL, NULL)
    row says it did not."""
    quote = connection.ops.quote_name
    types = [field.db_type(connection) for field in _FIELDS]
    if single:
        source = "SELECT " + ", ".join(f"%(c{i})s::{type_}" for i, type_ in enumerate(types))
    else:
        arrays = ", ".join(f"%(c{i})b::{type_}[]" for i, type_ in enumerate(types))
        source = f"SELECT * FROM unnest({arrays})"  # noqa: S608 - placeholders and types
    guard, condition, answer = "", None, "SELECT id, uuid FROM logs"
    if guarded:
        columns = ", ".join(quote(field.column) for field in _TENANT_FIELDS)
        values = ", ".join(
            f"%(t{i})s::{field.db_type(connection)}" for i, field in enumerate(_TENANT_FIELDS)
        )
        guard = (
            f"tenant_unchanged AS MATERIALIZED (SELECT FROM {quote(Tenant._meta.db_table)} "  # noqa: S608
            f"WHERE {quote(Tenant._meta.pk.column)} = %(tenant_id)s "
            f"AND ({columns}) IS NOT DISTINCT FROM ({values})), "
        )
        condition = "EXISTS (SELECT FROM tenant_unchanged)"
        source = f"{source} WHERE {condition}"
        answer += f" UNION ALL SELECT NULL, NULL WHERE NOT {condition}"
    # Only identifiers and types from model metadata are interpolated; values are bound.
    return (
        f"WITH {guard}logs AS ({_head()}{source}"
        f"{_tail('event_id', 'timestamp', 'count')}), "
        f"{increment_ctes(logs='logs', condition=condition)} {answer}"
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


_DATA = LogRow._fields.index("data")


def _columns(rows: Sequence[LogRow]) -> list[list]:
    columns = [list(column) for column in zip(*rows, strict=True)]
    columns[_DATA] = [orjson.dumps(value).decode() for value in columns[_DATA]]
    return columns


def _row_values(row: LogRow) -> list:
    values = list(row)
    values[_DATA] = orjson.dumps(row.data).decode()
    return values


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
    columns = ", ".join(quote(column) for column in _COLUMNS)
    return f"INSERT INTO {quote(EventLog._meta.db_table)} ({columns}) "


def _tail(*returning: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in ("id", "uuid", *returning))
    return f" ON CONFLICT ({quote('tenant_id')}, {quote('uuid')}) DO NOTHING RETURNING {columns}"


def _values_sql(row_count: int) -> str:
    placeholders = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
    return f"{_head()}VALUES {', '.join([placeholders] * row_count)}{_tail()}"
