"""The bench database: created fresh each run, migrated, and loaded with N events.

Loading is the bulk-load recipe PostgreSQL's manual recommends ("Populating a
Database"): drop EventLog's secondary indexes and foreign keys, `COPY` the rows in
(psycopg 3 `cursor.copy`), rebuild the indexes and constraints, fill the
HourlyCount rollup with one `INSERT … SELECT … GROUP BY`, then `VACUUM (ANALYZE)`
so the table is in the state autovacuum would leave it in production. Tenants,
users, tokens and events are created through the Django ORM.
"""

import datetime as dt
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
# BENCH_SERVER_URL: a database on the server to bench on, for its address and, on a
# Citus coordinator, its list of workers (the bench database gets the same ones).
MAIN_URL = os.environ.get("BENCH_SERVER_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
SERVER_URL = urlunsplit(urlsplit(MAIN_URL)._replace(path=""))
DB_NAME = "eventtracker_bench"
DATABASE_URL = f"{SERVER_URL}/{DB_NAME}"
TENANTS = int(os.environ.get("BENCH_TENANTS") or 2)
TABLE = "events_eventlog"
ROLLUP = "events_hourlycount"
DAILY = "events_dailycount"
COPY_COLUMNS = (
    "tenant_id",
    "event_id",
    "uuid",
    "timestamp",
    "received_at",
    "count",
    "distinct_id",
    "data",
    "created_by_id",
)
EVENT_NAMES = (
    "pageview",
    "click",
    "signup",
    "login",
    "logout",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "purchase",
    "refund",
    "share",
    "comment",
    "like",
    "video_play",
    "video_pause",
    "download",
    "upload",
    "error",
    "feedback",
)


def tenant_shares(tenants: int) -> tuple[float, ...]:
    """Each tenant's share of the events: 70 % and 30 % for two; for more, by rank as
    Zipf's law has it (a few large tenants, a long tail)."""
    if tenants == 2:
        return (0.7, 0.3)
    weights = [1 / (rank + 1) for rank in range(tenants)]
    return tuple(weight / sum(weights) for weight in weights)


USERS = 50_000
CHUNK = 100_000
GENERATORS = 2


@dataclass(slots=True)
class Tenant:
    id: int
    slug: str
    user_id: int
    token: str
    event_ids: dict[str, int]


def recreate_database() -> None:
    """Drop and create the bench database (never any other one); on a Citus coordinator
    on every node, and `migrate` then distributes its tables."""
    from core.sharding import create_database

    create_database(_settings(), DB_NAME)


def drop_database() -> None:
    from core.sharding import drop_database as drop

    drop(_settings(), DB_NAME)


def _settings() -> dict:
    """The server's database of BENCH_SERVER_URL as a Django database setting."""
    import environ

    return environ.Env.db_url_config(MAIN_URL)


def manage(env: dict[str, str], *args: str) -> None:
    """`manage.py *args` against the bench database."""
    # A fixed argv (this interpreter, the project's manage.py): no shell, no user input.
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def create_tenants() -> list[Tenant]:
    """TENANTS tenants (two by default), a user and a token each, and the same 20 event
    names in each (ORM)."""
    from accounts.models import AuthToken, User
    from accounts.models import Tenant as TenantModel
    from events.models import Event

    tenants = []
    for slug in (f"bench-{index}" for index in range(TENANTS)):
        tenant = TenantModel.objects.create(name=slug, slug=slug)
        user = User.objects.create_user(username=f"{slug}-user", password=None, tenant=tenant)
        _, key = AuthToken.objects.create_token(user)
        Event.objects.bulk_create(Event(tenant=tenant, name=name) for name in EVENT_NAMES)
        ids = dict(Event.objects.filter(tenant=tenant).values_list("name", "id"))
        tenants.append(Tenant(tenant.id, slug, user.id, key, ids))
    return tenants


def load_events(conn: psycopg.Connection, tenants: list[Tenant], n: int, *, now: dt.datetime):
    """COPY n events spread over the year before `now`; returns seconds per step."""
    from core.sharding import citus_version

    timings: dict[str, float] = {}
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET synchronous_commit = off")
    with conn.cursor() as cursor:
        if citus_version(cursor) is not None:
            # The tables' foreign keys to reference tables: Citus changes their shards
            # over one connection per node, or refuses DDL after a parallel step.
            cursor.execute("SET citus.multi_shard_modify_mode TO 'sequential'")
    saved = _drop_secondary_structures(conn, TABLE)
    begin = time.perf_counter()
    _copy_rows(conn, tenants, n, now=now)
    timings["copy"] = time.perf_counter() - begin
    begin = time.perf_counter()
    _restore(conn, saved)
    timings["indexes"] = time.perf_counter() - begin
    begin = time.perf_counter()
    saved = _drop_secondary_structures(conn, ROLLUP) + _drop_secondary_structures(conn, DAILY)
    rollup_rows = fill_rollup(conn)
    _restore(conn, saved)
    timings["rollup"] = time.perf_counter() - begin
    begin = time.perf_counter()
    conn.autocommit = True
    for table in (TABLE, ROLLUP, DAILY):
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
    conn.autocommit = False
    timings["analyze"] = time.perf_counter() - begin
    return timings, rollup_rows


def autoanalyze(conn: psycopg.Connection) -> list[str]:
    """ANALYZE the tables autovacuum would have analyzed by now: those with more rows
    changed since their last ANALYZE than its threshold (50 + 10 % of the table, the
    defaults). Servers run autovacuum; this one does not, and the planner would read
    the bench's own ingestion with statistics that end before it. The tables analyzed."""
    stale = [
        name
        for (name,) in conn.execute(
            "SELECT s.relname FROM pg_stat_user_tables AS s "
            "JOIN pg_class AS c ON c.oid = s.relid "
            "WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) "
            "ORDER BY s.relname"
        )
    ]
    for name in stale:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return stale


def fill_rollup(conn: psycopg.Connection) -> int:
    """HourlyCount from the raw rows: one INSERT … SELECT date_trunc('hour') … GROUP BY;
    DailyCount from HourlyCount the same way.

    ORDER BY hour: live ingestion creates buckets hour after hour, so in production
    the table is laid out in time order; a hash aggregate's order would scatter
    each hour's rows over the whole table and slow every range read."""
    minute = "date_part('minute', timestamp AT TIME ZONE 'UTC')"
    firsts = "".join(
        f", coalesce(sum(count) FILTER (WHERE {minute} < {m}), 0)" for m in (15, 30, 45)
    )
    cursor = conn.execute(
        f"INSERT INTO {ROLLUP} (tenant_id, event_id, hour, count, first_15, first_30, first_45) "  # noqa: S608 - fixed names
        f"SELECT tenant_id, event_id, date_trunc('hour', timestamp, 'UTC'), sum(count){firsts} "
        f"FROM {TABLE} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2"
    )
    rows = cursor.rowcount
    hour_of_day = "extract(hour FROM hour AT TIME ZONE 'UTC')"
    before = [f"before_{h}" for h in range(1, 24)]
    sums = "".join(
        f", coalesce(sum(count) FILTER (WHERE {hour_of_day} < {h}), 0)" for h in range(1, 24)
    )
    conn.execute(
        f"INSERT INTO {DAILY} (tenant_id, event_id, day, count, {', '.join(before)}) "  # noqa: S608 - fixed names
        f"SELECT tenant_id, event_id, (hour AT TIME ZONE 'UTC')::date, sum(count){sums} "
        f"FROM {ROLLUP} GROUP BY 1, 2, 3 ORDER BY 3, 1, 2"
    )
    conn.commit()
    return rows


def _restore(conn: psycopg.Connection, statements: list[str]) -> None:
    for statement in statements:
        # Definitions read back from pg_catalog a moment ago, not user input.
        conn.execute(statement)  # type: ignore[arg-type]
    conn.commit()


def _drop_secondary_structures(conn: psycopg.Connection, table_name: str) -> list[str]:
    """Drop a table's indexes (all but the primary key) and its unique and foreign-key
    constraints; return the statements that put them back."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
        (table_name,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        (table_name,),
    ).fetchall()
    table = sql.Identifier(table_name)
    for name, _ in constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(name))
        )
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    conn.commit()
    restore = [definition for _, definition in indexes]
    restore += [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ")
        .format(table, sql.Identifier(name))
        .as_string(conn)
        + definition
        for name, definition in constraints
    ]
    return restore


def _copy_rows(conn: psycopg.Connection, tenants: list[Tenant], n: int, *, now: dt.datetime):
    """Stream the rows into one COPY; two processes format them (the CPU-heavy part)
    while this one feeds PostgreSQL, in order."""
    columns = sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    progress = Progress("load", n)
    chunks = [(start, min(CHUNK, n - start)) for start in range(0, n, CHUNK)]
    context = multiprocessing.get_context("spawn")
    with (
        context.Pool(GENERATORS, initializer=_init_generator, initargs=(tenants, n, now)) as pool,
        conn.cursor() as cursor,
        # Fixed table and column names; the rows travel as COPY data, not as SQL.
        cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(TABLE), columns)
        ) as copy,
    ):
        pending: deque = deque()
        for chunk in chunks:
            pending.append((chunk, pool.apply_async(_generate, (chunk,))))
            if len(pending) > 2 * GENERATORS:  # bounded look-ahead: memory stays flat
                _write_next(copy, pending, progress)
        while pending:
            _write_next(copy, pending, progress)
    conn.commit()
    progress.done()


def _write_next(copy, pending: deque, progress: "Progress") -> None:
    (start, count), job = pending.popleft()
    copy.write(job.get())
    progress.update(start + count)


_generator: "RowText | None" = None


def _init_generator(tenants: list[Tenant], n: int, now: dt.datetime) -> None:
    global _generator
    _generator = RowText(tenants, n=n, now=now, seed=42)


def _generate(chunk: tuple[int, int]) -> bytes:
    assert _generator is not None  # noqa: S101 - set by the pool initializer
    return _generator.chunk(*chunk)


class RowText:
    """COPY text rows, in time order (as logs arrive), over the year before `now`.

    Built with string formatting rather than per-row datetime/uuid objects: at
    10 M rows the generator, not PostgreSQL, would otherwise be the slow part."""

    def __init__(self, tenants: list[Tenant], *, n: int, now: dt.datetime, seed: int) -> None:
        self.seed = seed
        self.n = n
        self.start = now.timestamp() - 365 * 86400
        self.step = 365 * 86400 / n
        self.prefixes: list[str] = []
        self.weights: list[float] = []
        for tenant, share in zip(tenants, tenant_shares(len(tenants)), strict=True):
            zipf = [1 / (rank + 1) for rank in range(len(EVENT_NAMES))]
            for name, weight in zip(EVENT_NAMES, zipf, strict=True):
                self.prefixes.append(f"{tenant.id}\t{tenant.event_ids[name]}\t")
                self.weights.append(share * weight / sum(zipf))
        self.suffixes = [f"\t{tenant.user_id}\n" for tenant in tenants]
        self.users = [f"user-{index}" for index in range(USERS)]
        self.data = [
            f'{{"path": "/page/{page}", "plan": "{plan}"}}'
            for page in range(500)
            for plan in ("free", "pro", "team")
        ]
        self._minute = -1
        self._minute_text = ""

    def chunk(self, first: int, count: int) -> bytes:
        """Rows first … first+count-1; the same for the same seed, whoever computes them."""
        # Benchmark data, not secrets: the stdlib generator, seeded per chunk.
        rng = random.Random(f"{self.seed}-{first}")  # noqa: S311
        combos = rng.choices(range(len(self.prefixes)), weights=self.weights, k=count)
        users = rng.choices(self.users, k=count)
        data = rng.choices(self.data, k=count)
        prefixes, suffixes, per_tenant = self.prefixes, self.suffixes, len(EVENT_NAMES)
        random_, getrandbits, start, step = rng.random, rng.getrandbits, self.start, self.step
        minute_of, minute_text = self._minute, self._minute_text
        lines = []
        for offset, combo in enumerate(combos):
            index = first + offset
            instant = start + (index + random_()) * step
            seconds = int(instant)
            if seconds // 60 != minute_of:
                minute_of = seconds // 60
                minute_text = time.strftime("%Y-%m-%d %H:%M:", time.gmtime(minute_of * 60))
            stamp = f"{minute_text}{seconds % 60:02d}.{int((instant - seconds) * 1e6):06d}+00"
            millis = int(instant * 1000)
            bits = getrandbits(26)
            lines.append(
                f"{prefixes[combo]}{millis >> 16:08x}-{millis & 0xFFFF:04x}-7{bits >> 14:03x}-"
                f"{0x8000 | (bits & 0x3FFF):04x}-{index:012x}\t{stamp}\t{stamp}\t1\t"
                f"{users[offset]}\t{data[offset]}{suffixes[combo // per_tenant]}"
            )
        self._minute, self._minute_text = minute_of, minute_text
        return "".join(lines).encode()


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.begin = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if not self.tty and now - self.last < 2 and done < self.total:
            return
        self.last = now
        elapsed = now - self.begin
        rate = done / elapsed if elapsed else 0
        filled = int(30 * done / self.total) if self.total else 30
        bar = "#" * filled + "." * (30 - filled)
        line = f"{self.label} [{bar}] {done:,}/{self.total:,} {rate:,.0f}/s {elapsed:.1f}s"
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def django_env(port: int | None = None, workers: int = 2) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        DJANGO_SECRET_KEY="bench",  # noqa: S106 - a throwaway key for a local benchmark
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_DEBUG="0",
        GUNICORN_WORKERS=str(workers),
        # Limits so high they never refuse, so the counter's cost is part of every figure.
        INGEST_RATE="100000000/min",
        READ_RATE="100000000/min",
    )
    if port is not None:
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    return env
