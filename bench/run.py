"""`make bench` / `make bench-quick`: load PostgreSQL, drive the real server, print one table.

Steps: (re)create the `eventtracker_bench` database and migrate it; load N events
with COPY; serve a plain WSGI hello with the project's gunicorn settings and drive
it; serve the app the same way and drive single-event and batch ingestion, replay
some accepted uuids, and time each stats endpoint alternately with its own SQL run
directly; COPY the same kind of rows straight into EventLog (removed afterwards); EXPLAIN each
stats statement and time the same answer from raw rows; check that every
acknowledged event is stored once and that the rollup has no drift; write
bench/results/<timestamp>.md/.json.

Every load is bounded by a duration and a request budget, and talks to 127.0.0.1 only.
"""

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg import sql

from bench import dataset, insights, report, stats_sql, verify
from bench.copy_baseline import id_watermarks, remove_copied
from bench.cpu import cpu_spent
from bench.loadgen import Connection, Phase, PhaseResult, make_event, run_phase
from bench.pressure import ActivitySampler, cpu_burner
from bench.server import Gunicorn, free_port
from core.sharding import citus_version

STATS_ENDPOINTS = ("event_trend", "event_frequency")
STATS_DAYS = (7, 30, 365)
# The 365-day goal holds in every zone: one with daylight saving, one with a :30 offset.
STATS_ZONES = ("America/New_York", "Asia/Kolkata")
# The days of exact user sets the load builds: those the insight cases read (90 days of
# active users with a 30-day window read 119).
USER_SET_DAYS = 125
# bench-quick's size: on the 2-core reference machine 1 M events take 30-40 s to load
# and ~110 s end to end; 500 k keeps the whole run near one minute (~70 s).
QUICK_EVENTS = 500_000
PG_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "max_parallel_workers_per_gather",
    "synchronous_commit",
)


@dataclass(slots=True)
class Settings:
    events: int
    quick: bool
    workers: int
    threads: int
    concurrency: int
    hello_s: float
    single_s: float
    batch_s: float
    stats_runs: tuple[int, int]  # (min, max) timed requests/statements per stats case
    stats_budget_s: float  # time budget per stats case, for HTTP + its SQL, then raw SQL
    drop_after: bool

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_EVENTS:,} events, short phases (~1 min)"
    )
    parser.add_argument(
        "--events", type=int, help=f"events to load (default 10 M; quick {QUICK_EVENTS:,})"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="load clients (default 16; 1 runs too)"
    )
    parser.add_argument("--seconds", type=float, help="length of each load phase")
    parser.add_argument("--drop-after", action="store_true", help="drop the bench database")
    args = parser.parse_args(argv)
    events = args.events or (QUICK_EVENTS if args.quick else 10_000_000)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    return Settings(
        events=events,
        quick=args.quick,
        workers=args.workers,
        threads=int(os.environ.get("GUNICORN_THREADS") or 4),
        concurrency=args.concurrency,
        hello_s=seconds,
        single_s=seconds,
        batch_s=seconds,
        stats_runs=(5, 10) if args.quick else (10, 30),
        stats_budget_s=1.0 if args.quick else 10.0,
        drop_after=args.drop_after,
    )


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.clock = time.perf_counter()
        self.env = dataset.django_env(workers=settings.workers)
        self.logs = Path(tempfile.mkdtemp(prefix="eventtracker-bench-"))
        self.phases: dict[str, PhaseResult] = {}
        self.cpu: dict[str, dict[str, float]] = {}  # per phase: CPU seconds by who spent them
        self.server_pid: int | None = None  # the gunicorn master serving the phases
        self.loadavg: dict[str, float] = {}  # 1-minute load average after each phase
        self.receipts: list[tuple[str, str]] = []
        self.result: dict = {
            "started_at": self.started.isoformat().replace("+00:00", "Z"),
            "mode": settings.mode,
            "command": "make bench-quick" if settings.quick else "make bench",
            "events_loaded": settings.events,
        }

    def run(self) -> int:
        say(f"bench ({self.settings.mode}): {self.settings.events:,} events; logs in {self.logs}")
        self.result["machine"] = machine()
        self.prepare()
        self.drive_hello()
        self.drive_app()
        self.copy_baselines()
        self.stats_sql()
        self.verify()
        return self.finish()

    # -- data --------------------------------------------------------------------------
    def prepare(self) -> None:
        begin = time.perf_counter()
        say("creating and migrating the bench database")
        dataset.recreate_database()
        dataset.manage(self.env, "migrate", "--noinput", "-v", "0")
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "eventtracker.settings"
        import django

        django.setup()
        self.tenants = dataset.create_tenants()
        self.now = dt.datetime.now(dt.UTC)
        with psycopg.connect(dataset.DATABASE_URL) as conn:
            steps, rollup_rows = dataset.load_events(
                conn, self.tenants, self.settings.events, now=self.now
            )
        # The job's work for a year of closed hours (approximate active users read them).
        from events.sketches import build_user_sketches

        begin_sketches = time.perf_counter()
        build_user_sketches(now=self.now)
        steps["sketches"] = time.perf_counter() - begin_sketches
        # The jobs' exact user sets (the query API counts from them), of the days the
        # insight cases read: a year of them is a one-off backfill of minutes.
        from events.usersets import build_user_sets

        begin_sets = time.perf_counter()
        build_user_sets(now=self.now, since=self.now - dt.timedelta(days=USER_SET_DAYS))
        steps["user_sets"] = time.perf_counter() - begin_sets
        self.result["load"] = {
            "seconds": time.perf_counter() - begin,
            "steps": steps,
            "rollup_rows": rollup_rows,
        }
        say(f"loaded in {self.result['load']['seconds']:.1f} s: {steps}")

    # -- HTTP --------------------------------------------------------------------------
    def phase(self, name: str, kind: str, port: int, path: str, **options) -> PhaseResult:
        s = self.settings
        options.setdefault("concurrency", s.concurrency)
        options.setdefault("event_names", dataset.EVENT_NAMES)
        options.setdefault("tokens", tuple(tenant.token for tenant in self.tenants))
        say(f"phase {name}: {options.get('duration')} s max, {options['concurrency']} clients")
        # Only while a server runs: the COPY clients' backends end with the phase, and
        # /proc has nothing to say of a process that is gone.
        with cpu_spent(self.server_pid, dataset.DB_NAME) as spent:
            result = run_phase(name, Phase(kind=kind, port=port, path=path, **options))
        self.phases[name] = result
        self.cpu[name] = spent if self.server_pid is not None else {}
        self.loadavg[name] = os.getloadavg()[0]
        self.receipts += result.receipts
        say(
            f"  {result.requests:,} requests, {result.rps:,.0f} req/s, {result.eps:,.0f} "
            f"events/s, statuses {result.statuses}"
        )
        return result

    @contextmanager
    def serving(self, server: Gunicorn) -> Iterator[None]:
        """Run `server` for the block; its processes' CPU is counted per phase (bench.cpu)."""
        with server:
            self.server_pid = server.process.pid
            try:
                yield
            finally:
                self.server_pid = None

    def drive_hello(self) -> None:
        port = free_port()
        # As issue 14 defines the baseline: the same config, no access log.
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESS_LOG": "off"}
        seconds = self.settings.hello_s
        hello = Gunicorn("bench.hello_wsgi:application", env=env, port=port, log=self.log("hello"))
        with self.serving(hello):
            for name, concurrency in (("hello1", 1), ("hello", self.settings.concurrency)):
                self.phase(
                    name, "hello", port, "/", duration=seconds, max_requests=200_000,
                    concurrency=concurrency,
                )  # fmt: skip
            with cpu_burner():
                self.phase("hello_busy", "hello", port, "/", duration=seconds, max_requests=200_000)

    def drive_app(self) -> None:
        s = self.settings
        port = free_port()
        # The service keeps its access log, whatever the shell says.
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESS_LOG": "on"}
        # No app argument: gunicorn.conf.py names the app (eventtracker.wsgi).
        with self.serving(Gunicorn(None, env=env, port=port, log=self.log("app"))):
            # Capture the stats SQL now, from the code the server has just loaded.
            statements = {
                (endpoint, days): {
                    source: stats_sql.captured_sql(
                        endpoint, self.tenants[0].id, days, self.now.date(), source
                    )
                    for source in ("rollup", "raw")
                }
                for endpoint in STATS_ENDPOINTS
                for days in STATS_DAYS
            }
            zone_statements = {
                (endpoint, zone): stats_sql.captured_sql(
                    endpoint, self.tenants[0].id, 365, self.now.date(), "auto", ZoneInfo(zone)
                )
                for endpoint in STATS_ENDPOINTS
                for zone in STATS_ZONES
            }
            self.single_phases(port)
            for size in (100, 1000):
                self.phase(
                    f"batch{size}",
                    "batch",
                    port,
                    "/api/eventlogs/batch/",
                    duration=s.batch_s,
                    max_requests=200_000 // size,
                    batch_size=size,
                )
            self.replay(port)
            # What the jobs process (manage.py run_jobs) does every FOLD_INTERVAL_SECONDS
            # where the service is deployed: fold the increments the phases left, and
            # vacuum their tables, which every stats read below sums; and what its next
            # round does: build again the user sets of the hours the fold changed.
            dataset.manage(self.env, "fold_counters")
            dataset.manage(self.env, "build_user_sets", "--days", str(USER_SET_DAYS))
            with psycopg.connect(dataset.DATABASE_URL, autocommit=True) as conn:
                self.result["autoanalyzed"] = dataset.autoanalyze(conn)
            say(f"analyzed as autovacuum would: {self.result['autoanalyzed']}")
            self.result["stats_zones"] = [
                self.stats_http(port, endpoint, 365, {"served": sql}, tz=zone)
                for (endpoint, zone), sql in zone_statements.items()
            ]
            self.result["stats"] = [
                self.stats_http(port, endpoint, days, statements[endpoint, days])
                for endpoint, days in statements
            ]
            self.result["insights"] = self.insights_http(port)

    def single_phases(self, port: int) -> None:
        """Single events from one connection, then from `concurrency` connections while
        pg_stat_activity is sampled, then again beside a CPU burner; and the event list
        from one connection (the request floor of a read)."""
        s = self.settings
        path = "/api/eventlogs/"
        self.phase("single1", "single", port, path, duration=s.single_s, max_requests=50_000,
                   concurrency=1)  # fmt: skip
        with ActivitySampler(dataset.DATABASE_URL) as sampler:
            self.phase("single", "single", port, path, duration=s.single_s, max_requests=50_000)
        self.result["activity"] = sampler.summary()
        with cpu_burner():
            self.phase("single_busy", "single", port, path, duration=s.single_s,
                       max_requests=50_000)  # fmt: skip
        self.phase("list1", "get", port, "/api/events/", duration=s.single_s,
                   max_requests=50_000, concurrency=1)  # fmt: skip

    def replay(self, port: int) -> None:
        """Send already-accepted uuids again, as a client retrying after a lost answer
        would: each must come back `duplicate` (200 for the single-event route)."""
        say("replaying accepted uuids")
        rng = random.Random(7)  # noqa: S311 - test payloads, not secrets
        stub = Phase(
            kind="single",
            port=port,
            path="",
            duration=0,
            max_requests=0,
            concurrency=1,
            event_names=dataset.EVENT_NAMES,
        )
        before = len(self.receipts)
        for slot, tenant in enumerate(self.tenants):
            conn = Connection(port)
            for uuid_ in self.phases["single"].accepted_sample.get(slot, [])[:20]:
                event = {**make_event(rng, stub, self.now), "uuid": uuid_}
                status, _ = conn.request(
                    "POST", "/api/eventlogs/", orjson.dumps(event), tenant.token
                )
                self.receipts.append((uuid_, "duplicate" if status == 200 else f"http {status}"))
            uuids = self.phases["batch100"].accepted_sample.get(slot, [])[:100]
            events = [{**make_event(rng, stub, self.now), "uuid": uuid_} for uuid_ in uuids]
            if events:
                body = orjson.dumps({"events": events})
                status, answer = conn.request("POST", "/api/eventlogs/batch/", body, tenant.token)
                receipts = orjson.loads(answer)["receipts"] if status == 200 else []
                statuses = [r["status"] for r in receipts] or [f"http {status}"] * len(uuids)
                self.receipts += list(zip(uuids, statuses, strict=True))
            conn.close()
        replayed = [status for _, status in self.receipts[before:]]
        duplicate = replayed.count("duplicate")
        self.result["replay"] = {
            "sent": len(replayed),
            "duplicate": duplicate,
            "other": len(replayed) - duplicate,
        }
        say(f"  {len(replayed)} replayed, {duplicate} answered duplicate")

    def stats_http(
        self, port: int, endpoint: str, days: int, statements: dict, tz: str = "UTC"
    ) -> dict:
        """The endpoint over HTTP and its own SQL statement straight through psycopg,
        timed alternately so both see the same conditions. `statements`: the rollup and
        raw statements of a UTC case, or the one a zone's endpoint serves ("served")."""
        start, end = stats_sql.date_range(days, self.now.date())
        path = f"/api/stats/{endpoint}?start_date={start}&end_date={end}"
        if tz != "UTC":
            path += f"&tz={tz}"
        baseline = statements.get("rollup") or statements["served"]
        http, direct, headers = self.http_vs_sql(port, "GET", path, None, baseline)
        source = headers.get(b"x-stats-source", b"?").decode()
        say(
            f"  GET {path}: p50 {http.p50_ms:.1f} ms, p95 {http.p95_ms:.1f} ms ({source}); "
            f"its SQL p50 {direct.p50_ms:.1f} ms"
        )
        return {
            "endpoint": endpoint,
            "days": days,
            "tz": tz,
            "path": path,
            "http": http.as_dict(),
            "sql_rollup": direct.as_dict(),
            "x_stats_source": source,
            "statements": statements,
        }

    def insights_http(self, port: int) -> list[dict]:
        """Each insights case over HTTP beside its raw-SQL baseline."""
        results = []
        for case in insights.cases(self.tenants[0], self.now.date()):
            body = insights.body_bytes(case)
            result = {
                "name": case.name,
                "goal_ms": case.goal_ms,
                "request": {"method": case.method, "path": case.path, "body": case.body},
                "baseline": case.baseline,
            }
            try:
                http, direct, _ = self.http_vs_sql(
                    port, case.method, case.path, body, list(case.baseline)
                )
            except RuntimeError as exc:  # a 503 past the statement timeout: a miss, noted
                say(f"  {case.name}: {exc}")
                results.append({**result, "error": str(exc)[:300]})
                continue
            say(f"  {case.name}: p95 {http.p95_ms:.1f} ms; raw SQL p95 {direct.p95_ms:.1f} ms")
            results.append({**result, "http": http.as_dict(), "sql": direct.as_dict()})
        return results

    def http_vs_sql(
        self, port: int, method: str, path: str, body: bytes | None, baseline: list[str]
    ) -> tuple[stats_sql.Timing, stats_sql.Timing, dict[bytes, bytes]]:
        """A request and SQL statements, timed alternately (after one warm-up of each) so
        both see the same conditions; the request's last response headers."""
        token = self.tenants[0].token
        conn = Connection(port)

        def request() -> None:
            status, answer = conn.request(method, path, body, token)
            if status != 200:
                raise RuntimeError(f"{method} {path} answered {status}: {answer[:300]!r}")

        with psycopg.connect(dataset.DATABASE_URL, autocommit=True) as sql_conn:
            sql_conn.execute("SET TIME ZONE 'UTC'")  # as Django's connection does

            def query() -> None:
                stats_sql.run_sql(sql_conn, baseline)

            request()
            query()
            low, high = self.settings.stats_runs
            http, direct = stats_sql.sample_pair(
                request,
                query,
                min_runs=low,
                max_runs=high,
                budget_s=2 * self.settings.stats_budget_s,
            )
        headers = conn.headers
        conn.close()
        return http, direct, headers

    # -- baselines without HTTP --------------------------------------------------------
    def copy_baselines(self) -> None:
        with psycopg.connect(dataset.DATABASE_URL, autocommit=True) as conn:
            watermarks = id_watermarks(conn, [tenant.id for tenant in self.tenants])
        copy_tenants = tuple(
            (tenant.id, tenant.user_id, tenant.event_ids) for tenant in self.tenants
        )
        for size in (100, 1000):
            http = self.phases[f"batch{size}"]
            self.phase(
                f"copy{size}",
                "copy",
                0,
                "",
                duration=self.settings.batch_s,
                max_requests=max(http.requests, self.settings.concurrency),
                batch_size=size,
                dsn=dataset.DATABASE_URL,
                copy_table=dataset.TABLE,
                copy_tenants=copy_tenants,
                tokens=(),
            )
        # The server is stopped: every log past a tenant's watermark is the baseline's.
        with psycopg.connect(dataset.DATABASE_URL, autocommit=True) as conn:
            say(f"removed the {remove_copied(conn, watermarks):,} copied rows")

    def stats_sql(self) -> None:
        """EXPLAIN both statements of each case; time the raw one (the rollup one was
        timed beside its endpoint)."""
        say("explaining the stats statements, timing the raw ones")
        with psycopg.connect(dataset.DATABASE_URL, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            for stat in self.result["stats"]:
                stat["plans"] = {}
                for source, statement in stat["statements"].items():
                    # EXPLAIN ANALYZE runs the statement once: it doubles as the warm-up.
                    plan, scans = stats_sql.explain(conn, statement)
                    stat["plans"][source] = {"sql": statement, "text": plan, "scans": scans}
                high = self.settings.stats_runs[1]
                timing = stats_sql.time_sql(
                    conn,
                    stat["statements"]["raw"],
                    min_runs=1 if self.settings.quick else 3,
                    max_runs=high,
                    budget_s=self.settings.stats_budget_s,
                )
                stat["sql_raw"] = timing.as_dict()
                say(
                    f"  {stat['endpoint']} {stat['days']} d: rollup p50 "
                    f"{stat['sql_rollup']['p50_ms']:.1f} ms, raw p50 "
                    f"{stat['sql_raw']['p50_ms']:.1f} ms"
                )

    # -- checks and results ------------------------------------------------------------
    def verify(self) -> None:
        say("verifying exactly-once storage and the rollup")
        with psycopg.connect(dataset.DATABASE_URL) as conn:
            self.result["verify"] = verify.exactly_once(conn, self.receipts)
        self.result["rollup_check"] = verify.rollup_check()

    def finish(self) -> int:
        self.result["phases"] = {
            name: {**phase_dict(p), "loadavg_after": self.loadavg[name], "cpu": self.cpu[name]}
            for name, p in self.phases.items()
        }
        self.result["settings"] = {
            "workers": self.settings.workers,
            "threads": self.settings.threads,
            "concurrency": self.settings.concurrency,
            "durations": max(self.settings.hello_s, self.settings.single_s, self.settings.batch_s),
            "stats_runs": self.settings.stats_runs,
            "stats_budget_s": self.settings.stats_budget_s,
        }
        self.result["machine"]["loadavg_end"] = loadavg()
        self.result["elapsed_seconds"] = time.perf_counter() - self.clock
        self.result["finished_at"] = dt.datetime.now(dt.UTC).isoformat()
        table = report.rows(self.result)
        self.result["table"] = table
        text = report.markdown(self.result, table)
        md_path, json_path = report.save(self.result, text)
        if self.settings.drop_after:
            dataset.drop_database()
        print(report.table_markdown(table))
        say(
            f"wrote {md_path.relative_to(dataset.ROOT)} and {json_path.name} "
            f"in {self.result['elapsed_seconds']:.0f} s"
        )
        ok = self.result["verify"]["ok"] and self.result["rollup_check"]["ok"]
        if ok:
            shutil.rmtree(self.logs, ignore_errors=True)
        else:
            say(f"verification failed; gunicorn logs kept in {self.logs}")
        return 0 if ok else 1

    def log(self, name: str) -> Path:
        return self.logs / f"gunicorn-{name}.log"


def phase_dict(phase: PhaseResult) -> dict:
    lat = [value * 1000 for value in phase.latencies]
    return {
        "requests": phase.requests,
        "events": phase.events,
        "wall_seconds": phase.wall_seconds,
        "rps": phase.rps,
        "eps": phase.eps,
        "p50_ms": stats_sql.percentile(lat, 50),
        "p95_ms": stats_sql.percentile(lat, 95),
        "p99_ms": stats_sql.percentile(lat, 99),
        "max_ms": lat[-1] if lat else float("nan"),
        "statuses": phase.statuses,
        "errors": phase.errors,
        "client_cpu_seconds": phase.client_cpu_seconds,
    }


def machine() -> dict:
    with psycopg.connect(dataset.MAIN_URL) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        pg_settings = {
            name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
            for name in PG_SETTINGS
        }
        with conn.cursor() as cursor:
            citus = citus_version(cursor)
        workers = (
            conn.execute("SELECT count(*) FROM pg_dist_node WHERE groupid > 0").fetchone()[0]
            if citus
            else 0
        )
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "memory_gib": pages / 2**30,
        "postgres": f"PostgreSQL {version}"
        + (f", Citus {citus} with {workers} workers" if citus else ""),
        "citus_workers": workers,
        "tenants": dataset.TENANTS,
        "python": platform.python_version(),
        "loadavg_start": loadavg(),
        "pg_settings": pg_settings,
        "git": git_revision(),
    }


def git_revision() -> str:
    """The commit measured, marked dirty when the working tree has changes
    (BENCH_REVISION overrides, for a run from an exported tree without .git)."""
    if revision := os.environ.get("BENCH_REVISION"):
        return revision
    try:
        # Fixed argv, no shell; git is looked up on PATH like any developer tool.
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=dataset.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=dataset.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


_T0 = time.perf_counter()


def say(message: str) -> None:
    sys.stderr.write(f"[bench {time.perf_counter() - _T0:5.1f}s] {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    return Bench(parse_args(argv)).run()
