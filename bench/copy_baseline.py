"""The batch-ingest baseline: a raw `COPY` of the same kind of rows, in the same batch
sizes, one transaction per batch, from as many concurrent clients as the HTTP run.

The rows go into events_eventlog itself, committed, and are deleted afterwards
(remove_copied): the same columns, indexes, checks and foreign keys at the same size,
so the baseline pays what the database must pay to store these rows with the same
guarantees, and nothing else (no HTTP, no validation, no receipts, no increments). An
empty table of the same shape (the baseline before) took a third less per batch at 10 M
logs: its indexes fit in memory.
"""

import datetime as dt
import random
import time

import orjson
import psycopg
from psycopg import sql

from bench.dataset import COPY_COLUMNS, TABLE
from bench.loadgen import ClientResult, Phase, make_event


def id_watermarks(conn: psycopg.Connection, tenant_ids: list[int]) -> dict[int, int]:
    """Each tenant's highest log id now (through the primary key, (tenant_id, id))."""
    query = sql.SQL("SELECT coalesce(max(id), 0) FROM {} WHERE tenant_id = %s").format(
        sql.Identifier(TABLE)
    )
    return {tenant_id: conn.execute(query, (tenant_id,)).fetchone()[0] for tenant_id in tenant_ids}


def remove_copied(conn: psycopg.Connection, watermarks: dict[int, int]) -> int:
    """Delete each tenant's logs past its watermark (the baseline's, when nothing else
    wrote meanwhile) and vacuum, so later statements read no dead rows. Needs autocommit."""
    statement = sql.SQL("DELETE FROM {} WHERE tenant_id = %s AND id > %s").format(
        sql.Identifier(TABLE)
    )
    deleted = sum(conn.execute(statement, item).rowcount for item in watermarks.items())
    conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(TABLE)))
    return deleted


class CopySender:
    """One client: COPY `batch_size` rows per transaction into `phase.copy_table`."""

    def __init__(self, phase: Phase, index: int) -> None:
        self.phase = phase
        self.tenant_id, self.user_id, self.event_ids = phase.copy_tenants[
            index % len(phase.copy_tenants)
        ]
        self.conn = psycopg.connect(phase.dsn)
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in COPY_COLUMNS)
        self.statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(phase.copy_table), columns
        )

    def send(self, rng: random.Random, result: ClientResult, *, record: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        events = [make_event(rng, self.phase, now) for _ in range(self.phase.batch_size)]
        begin = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        with self.conn.cursor() as cursor, cursor.copy(self.statement) as copy:
            for event in events:
                copy.write_row(
                    (
                        self.tenant_id,
                        self.event_ids[event["event_name"]],
                        event["uuid"],
                        event["timestamp"],
                        begin,
                        1,
                        event["distinct_id"],
                        orjson.dumps(event["data"]).decode(),
                        self.user_id,
                    )
                )
        self.conn.commit()
        if record:
            result.latencies.append(time.perf_counter() - started)
            result.statuses[200] = result.statuses.get(200, 0) + 1
            result.events_sent += len(events)

    def close(self) -> None:
        self.conn.close()
