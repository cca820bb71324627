"""SQL the ORM does not write for us: psycopg cursors that bind on the server, multi-row
appends, and the fold that moves appended increments into their counter table with an
upsert. Identifiers come from model metadata, values are bound."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction

from core.sharding import is_sharded

ROWS_CHUNK = 500  # rows per SQLite statement, under its variable limit


@contextmanager
def server_side_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[psycopg.Cursor]:
    """A cursor on Django's own PostgreSQL connection (so inside its transaction, if any)
    that binds parameters on the server and can read results in binary. Django's cursors
    bind on the client, which turns large arrays into SQL literals (slow), and read text;
    these statements bypass Django's query logging, which is the price. Errors come out
    as Django's (a lost connection is an OperationalError, answered 503 like any other
    query's)."""
    conn = connections[using]
    conn.ensure_connection()
    with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cursor:
        yield cursor


@contextmanager
def one_snapshot(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block's reads at one moment: an answer made of several queries (the daily
    rollup's whole days, the part of each edge's day before it, an edge hour's first
    minutes) then counts each event in all of them or in none. In autocommit each
    statement sees what has committed by its own start (READ COMMITTED), and an event
    committed between two of them was counted by one part and not the other. PostgreSQL:
    a REPEATABLE READ, READ ONLY transaction. SQLite: a deferred one (its snapshot starts
    at the first read, and it takes no write lock: the configured IMMEDIATE would hold
    off every ingest while the stats are read). Inside a transaction already, the
    caller's transaction decides."""
    conn = connections[using]
    if conn.in_atomic_block or conn.vendor not in ("postgresql", "sqlite"):
        yield
        return
    if conn.vendor == "postgresql":
        with transaction.atomic(using=using):
            with conn.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    conn.ensure_connection()  # connecting sets transaction_mode from the settings
    mode = conn.transaction_mode
    conn.transaction_mode = "DEFERRED"  # read by atomic's BEGIN only
    try:
        with transaction.atomic(using=using):
            conn.transaction_mode = mode
            yield
    finally:
        conn.transaction_mode = mode


def append(model: type[models.Model], *, fields: Sequence[str], rows: Sequence[tuple]) -> None:
    """Insert `rows` (values of `fields`, in that order) as new rows of `model`, in one
    statement per chunk. No conflict target: nothing to lock but the rows themselves."""
    if rows:
        _write_rows(model, fields, rows, lambda source: _insert_sql(model, fields, source))


class ByDay(NamedTuple):
    """A second counter table a fold keeps from the same increments: the same keys with
    the instant `hour` replaced by its UTC `day`, and the sums of `amounts` (a target
    column → SQL over the increment's columns)."""

    target: type[models.Model]
    hour: str
    day: str
    amounts: dict[str, str]


def utc_day_sql(instant: str) -> str:
    """SQL for the UTC day of `instant` (a column, or a placeholder)."""
    if connection.vendor == "postgresql":
        return f"({instant}::timestamptz AT TIME ZONE 'UTC')::date"
    return f"date({instant})"


def utc_hour_of_day_sql(instant: str) -> str:
    """SQL for the UTC hour of the day (0-23) of `instant` (a column). On SQLite the hour
    of `time()`, not `strftime('%H', …)`: a literal `%` in a statement with parameters
    breaks Django's query logging under DEBUG, which formats the SQL with them."""
    if connection.vendor == "postgresql":
        return f"extract(hour FROM {instant} AT TIME ZONE 'UTC')"
    return f"CAST(substr(time({instant}), 1, 2) AS INTEGER)"


def fold(
    pending: type[models.Model],
    target: type[models.Model],
    *,
    keys: Sequence[str],
    amounts: Sequence[str],
    limit: int,
    by_day: ByDay | None = None,
    tenant_id: int | None = None,
    after: Callable[[list[tuple]], None] | None = None,
    guard: Callable[[], bool] | None = None,
) -> int:
    """Move at most `limit` rows of `pending` (appended increments) into `target` (one
    counter row per key), and into `by_day`'s table by day, in one transaction: the
    increments are deleted and added to their counters together, so readers of
    `pending` + a counter table never see one twice or not at all. Counter rows that fall
    to zero are removed (no data = no row). Safe to run in several processes at once: on
    PostgreSQL each claims rows with SKIP LOCKED; SQLite has a single writer. With
    `tenant_id`, only that tenant's rows (a database sharded by tenant locks rows inside
    one shard only; PostgreSQL, where Citus runs). `after` gets the folded counter rows
    (keys then amounts) inside the transaction. `guard` runs first in it: False, and
    nothing is moved now. Returns the number of increments moved."""
    with transaction.atomic():
        if guard is not None and not guard():
            return 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # A queue table's statistics lag its churn (autovacuum may not have run
                # since thousands of increments came and went), the planner then expects
                # a large table, and JIT-compiling the fold cost 25 of its 31 ms (bench).
                cursor.execute("SET LOCAL jit = off")
            moved, totals = _fold_postgresql(
                pending, target, keys, amounts, limit, by_day, tenant_id
            )
        else:
            moved, totals = _fold_sqlite(pending, target, keys, amounts, limit, by_day)
        if after is not None and totals:
            after(totals)
        zeros = [row for row in totals if not any(row[len(keys) :])]
        _delete_zeros(target, keys, amounts, zeros)
        if by_day is not None:
            # A day can only fall to zero where one of its hours did.
            _delete_zero_days(by_day, keys, zeros)
    return moved


def _by_day_sql(by_day: ByDay, pending, keys: Sequence[str], source: str) -> str:
    """The upsert of `by_day`'s table from `source` (rows of `pending`'s columns)."""
    day_keys = [by_day.day if key == by_day.hour else key for key in keys]
    sources = [
        utc_day_sql(column) if key == by_day.hour else column
        for key, column in zip(keys, _columns(pending, keys), strict=True)
    ]
    groups = ", ".join(sources)
    sums = ", ".join(f"SUM({sql})" for sql in by_day.amounts.values())
    select = (
        # WHERE: an upsert's SELECT needs one on SQLite (else ON could start a join).
        f"SELECT {groups}, {sums} FROM {source} "  # noqa: S608
        f"WHERE 1 = 1 GROUP BY {groups} ORDER BY {groups}"
    )
    return _insert_sql(by_day.target, (*day_keys, *by_day.amounts), select) + _upsert_tail(
        by_day.target, day_keys, list(by_day.amounts)
    )


def _delete_zero_days(by_day: ByDay, keys: Sequence[str], zeros: list[tuple]) -> None:
    """Remove the days of the hourly rows `zeros` from `by_day`'s table if they are zero."""
    day_keys = [by_day.day if key == by_day.hour else key for key in keys]
    match = [utc_day_sql("%s") if key == by_day.hour else "%s" for key in keys]
    _delete_if_zero(by_day.target, day_keys, match, list(by_day.amounts), zeros)


def _delete_zeros(target, keys, amounts, zeros: list[tuple]) -> None:
    """Remove the counter rows `zeros` (keys then amounts, as the fold returned them:
    the database's own representation, compared back as is) if they are still zero."""
    _delete_if_zero(target, keys, ["%s"] * len(keys), amounts, zeros)


def _delete_if_zero(target, keys, match: list[str], amounts, rows: list[tuple]) -> None:
    """DELETE the row of `target` whose `keys` equal `match` (SQL over each row's key
    values) when all its `amounts` are 0, for each of `rows`."""
    table = connection.ops.quote_name(target._meta.db_table)
    condition = " AND ".join(f"{column} = 0" for column in _columns(target, amounts))
    sql = (
        f"DELETE FROM {table} WHERE ({', '.join(_columns(target, keys))}) = "  # noqa: S608
        f"({', '.join(match)}) AND {condition}"
    )
    with connection.cursor() as cursor:
        for row in rows:
            cursor.execute(sql, list(row[: len(keys)]))


def _fold_postgresql(
    pending, target, keys, amounts, limit, by_day, tenant_id
) -> tuple[int, list[tuple]]:
    q = connection.ops.quote_name
    table, pk = q(pending._meta.db_table), q(pending._meta.pk.column)
    where, params = "", [limit]
    if tenant_id is not None:
        where, params = f"WHERE {q('tenant_id')} = %s ", [tenant_id, limit, tenant_id]
    key_columns = ", ".join(_columns(pending, keys))
    amount_columns = _columns(pending, amounts)
    sums = ", ".join(f"SUM({column})" for column in amount_columns)
    day_cte = f"by_day AS ({_by_day_sql(by_day, pending, keys, 'moved')}), " if by_day else ""
    # Only identifiers from model metadata and placeholders are interpolated.
    sql = (
        f"WITH claimed AS (SELECT {pk} FROM {table} {where}ORDER BY {pk} "  # noqa: S608
        f"LIMIT %s FOR UPDATE SKIP LOCKED), "
        f"moved AS (DELETE FROM {table} {where}{'AND' if where else 'WHERE'} "
        f"{pk} IN (SELECT {pk} FROM claimed) "
        f"RETURNING {key_columns}, {', '.join(amount_columns)}), "
        f"counted AS (SELECT count(*) AS n FROM moved), {day_cte}"
        f"folded AS ({_insert_sql(target, (*keys, *amounts), '')}"
        f"SELECT {key_columns}, {sums} FROM moved GROUP BY {key_columns} ORDER BY {key_columns}"
        f"{_upsert_tail(target, keys, amounts)} RETURNING {key_columns}, "
        f"{', '.join(_columns(target, amounts))}) "
        f"SELECT (SELECT n FROM counted), folded.* FROM folded"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return 0, []
    return rows[0][0], [row[1:] for row in rows]


def _fold_sqlite(pending, target, keys, amounts, limit, by_day) -> tuple[int, list[tuple]]:
    q = connection.ops.quote_name
    table, pk = q(pending._meta.db_table), q(pending._meta.pk.column)
    key_columns = ", ".join(_columns(pending, keys))
    sums = ", ".join(f"SUM({column})" for column in _columns(pending, amounts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), max({pk}) FROM "  # noqa: S608
            f"(SELECT {pk} FROM {table} ORDER BY {pk} LIMIT %s)",
            [limit],
        )
        moved, last = cursor.fetchone()
        if not moved:
            return 0, []
        # The WHERE clause also spares SQLite the ambiguity of an upsert on INSERT … SELECT.
        source = (
            f"SELECT {key_columns}, {sums} FROM {table} WHERE {pk} <= %s "  # noqa: S608
            f"GROUP BY {key_columns} ORDER BY {key_columns}"
        )
        returning = f" RETURNING {key_columns}, {', '.join(_columns(target, amounts))}"
        upsert = _insert_sql(target, (*keys, *amounts), source)
        cursor.execute(upsert + _upsert_tail(target, keys, amounts) + returning, [last])
        totals = cursor.fetchall()
        if by_day is not None:
            claimed = f"(SELECT * FROM {table} WHERE {pk} <= %s)"  # noqa: S608
            cursor.execute(_by_day_sql(by_day, pending, keys, claimed), [last])
        cursor.execute(f"DELETE FROM {table} WHERE {pk} <= %s", [last])  # noqa: S608
    return moved, totals


def _write_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[tuple],
    build: Callable[[str], str],
) -> None:
    """Run `build(source)` with the rows as its source: one array parameter per column
    bound on the server (PostgreSQL), or VALUES lists of at most ROWS_CHUNK rows (SQLite;
    and Citus, which sends a VALUES insert straight to its shard but an insert from
    `unnest` through the coordinator, as an intermediate result)."""
    fields = [model._meta.get_field(name) for name in names]
    if connection.vendor == "postgresql" and not is_sharded():
        # The column types come from model metadata, like every identifier here.
        types = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
        columns = [list(column) for column in zip(*rows, strict=True)]
        with server_side_cursor() as cursor:
            cursor.execute(build(f"SELECT * FROM unnest({types})"), columns)  # noqa: S608
        return
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_CHUNK):
            chunk = rows[start : start + ROWS_CHUNK]
            params = [
                field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            cursor.execute(build("VALUES " + ", ".join([row_sql] * len(chunk))), params)


def _columns(model: type[models.Model], names: Sequence[str]) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(name).column) for name in names]


def _insert_sql(model: type[models.Model], names: Sequence[str], source: str) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(_columns(model, names))}) {source}"


def _upsert_tail(model: type[models.Model], keys: Sequence[str], amounts: Sequence[str]) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    updates = ", ".join(
        f"{column} = {table}.{column} + excluded.{column}" for column in _columns(model, amounts)
    )
    return f" ON CONFLICT ({', '.join(_columns(model, keys))}) DO UPDATE SET {updates}"
