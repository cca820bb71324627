"""The batch-ingest baseline: a raw `COPY` of the same kind of rows, in the same batch
sizes, one transaction per batch, from as many concurrent clients as the HTTP run.

The scratch table is `LIKE events_eventlog INCLUDING ALL` plus EventLog's foreign
keys: the same columns, indexes, checks and foreign keys, so the baseline pays what
the database must pay to store these rows with the same guarantees, and nothing else
(no HTTP, no validation, no receipts, no rollup upsert).
"""

import datetime as dt
import random
import time

import orjson
import psycopg
from psycopg import sql

from bench.dataset import COPY_COLUMNS, TABLE
from bench.loadgen import ClientResult, Phase, make_event
from core.sharding import citus_version

SCRATCH = "bench_copy_scratch"


def create_scratch(conn: psycopg.Connection) -> str:
    """(Re)create the scratch table; returns its name."""
    scratch, table = sql.Identifier(SCRATCH), sql.Identifier(TABLE)
    with conn.cursor() as cursor:
        citus = citus_version(cursor) is not None
    if citus:
        # Foreign keys to reference tables: Citus adds them over one connection per node.
        conn.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(scratch, table))
    if citus:
        # Sharded like EventLog: its foreign key to the events needs it, and the baseline
        # then pays the same routing through the coordinator.
        conn.execute(
            "SELECT create_distributed_table(%s, 'tenant_id', colocate_with => %s)",
            (SCRATCH, TABLE),
        )
    foreign_keys = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f'",
        (TABLE,),
    ).fetchall()
    for (definition,) in foreign_keys:
        # The definition is read from pg_catalog, not from outside input.
        conn.execute(sql.SQL("ALTER TABLE {} ADD ").format(scratch).as_string(conn) + definition)
    conn.commit()
    return SCRATCH


class CopySender:
    """One client: COPY `batch_size` rows per transaction into the scratch table."""

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
