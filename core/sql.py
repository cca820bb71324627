"""SQL the ORM does not write for us: psycopg cursors that bind on the server, and the
generic counter upsert. Identifiers come from model metadata, values are bound."""

from collections.abc import Sequence

import psycopg
from django.db import connection, models

UPSERT_CHUNK = 500  # rows per SQLite statement, under its variable limit


def server_side_cursor() -> psycopg.Cursor:
    """A cursor on Django's own PostgreSQL connection (so inside its transaction) that
    binds parameters on the server. Django's cursors bind on the client, which turns
    large arrays into SQL literals (slow); these statements bypass Django's query
    logging, which is the price."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


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
        # One statement, one array parameter per column, bound on the server.
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
