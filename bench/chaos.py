"""Chaos test: no event lost, none stored twice, under load and faults.

For each database (a private PostgreSQL cluster, then a SQLite file): migrate, create
tenants, start gunicorn with the project's gunicorn.conf.py (2+ workers), let
concurrent clients send batches with client uuids and retries (bench.chaos_clients),
`kill -9` a gunicorn worker in the middle, on PostgreSQL also crash the postmaster
(kill -9, then start: crash recovery) or stop it fast, and then prove exactly-once
storage and an exact rollup (bench.chaos_check). Prints one table; exits 1 on any
failure. Only 127.0.0.1 is contacted, and only processes started here are killed.

    python -m bench.chaos                                   # pytest's small bounds
    python -m bench.chaos --clients 8 --batches 200 --worker-kills 3
"""

import argparse
import datetime as dt
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.chaos_check import check, read_database, rebuild_check, run_manage, scan_server_log
from bench.chaos_clients import Load, start_clients
from bench.chaos_report import render
from bench.pgcluster import PrivatePostgres, children_of
from bench.server import Gunicorn, free_port

DATABASES = ("postgresql", "sqlite")
TENANTS_MARK = "CHAOS_TENANTS="
# A user and a login token per tenant, printed as JSON (run by `manage.py shell -c`).
TENANTS_CODE = """
import json
from accounts.models import AuthToken, User
made = []
for i in range({n}):
    user = User.objects.create_user(username=f"chaos-{{i}}", password=None)
    made.append([user.tenant_id, AuthToken.objects.create_token(user)[1]])
print("{mark}" + json.dumps(made))
"""


@dataclass(frozen=True, slots=True)
class Bounds:
    """One run's size and faults; the defaults are the pytest variant's."""

    clients: int = 4
    batches: int = 60
    batch_size: int = 50
    shared: int = 5
    replay_every: int = 7
    tenants: int = 2
    workers: int = 2
    worker_kills: int = 2
    pg_fault: str = "crash"  # "crash": kill -9 the postmaster; "stop": pg_ctl stop -m fast
    outage_seconds: float = 2.0
    seed: int = 20261125
    give_up_seconds: float = 120.0

    def load(self) -> Load:
        return Load(
            clients=self.clients,
            batches=self.batches,
            batch_size=self.batch_size,
            shared=min(self.shared, self.batch_size),
            replay_every=self.replay_every,
            seed=self.seed,
            give_up_seconds=self.give_up_seconds,
        )


@dataclass(slots=True)
class Result:
    database: str
    bounds: Bounds
    counts: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    server_log: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    outage: tuple[float, float] | None = None  # time.monotonic() the database was down
    server_errors_at: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def run_database(database: str, bounds: Bounds, *, workdir: Path) -> Result:
    """The whole chaos run on one database; the Result says what happened and what failed."""
    if database not in DATABASES:
        raise ValueError(f"database must be one of {DATABASES}, got {database!r}")
    began = time.monotonic()
    result = Result(database=database, bounds=bounds)
    with _database(database) as cluster:
        url = cluster.url if cluster else f"sqlite:///{workdir / 'db.sqlite3'}"
        env = _environment(url, workdir, bounds)
        _prepare(env)
        tenants = _create_tenants(env, bounds.tenants)
        port = int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
        log_path = workdir / "gunicorn.log"
        with Gunicorn(None, env=env, port=port, log=log_path) as server:
            logs = _drive(result, server, cluster, tenants, bounds)
            _check_workers(result, server, bounds)
        _verify(result, logs, env, log_path)
    result.seconds = time.monotonic() - began
    _judge(result)
    return result


def _verify(result: Result, logs: list, env: dict[str, str], log_path: Path) -> None:
    """Counts from the database, the clients, the rollup check and the server log."""
    rows, rollup = read_database(env["DATABASE_URL"])
    result.counts = check(logs, rows, rollup)
    result.counts["requests"] = sum(log.requests for log in logs)
    result.counts["retries"] = sum(log.retries for log in logs)
    result.counts["items transmitted"] = sum(log.items_transmitted for log in logs)
    result.counts["batches given up"] = sum(log.given_up for log in logs)
    result.answers = dict(sum((log.answers for log in logs), Counter()).most_common())
    result.server_errors_at = sorted(t for log in logs for t in log.server_errors_at)
    returncode, line = rebuild_check(env)
    result.counts["rebuild_hourly_counts --check exit code"] = returncode
    result.notes["rebuild_hourly_counts --check"] = line
    result.server_log = scan_server_log(log_path)
    result.failures.extend(problem for log in logs for problem in log.problems)


def _database(database: str) -> AbstractContextManager:
    return PrivatePostgres() if database == "postgresql" else nullcontext()


def _environment(url: str, workdir: Path, bounds: Bounds) -> dict[str, str]:
    (workdir / "metrics").mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "DJANGO_SECRET_KEY": "chaos-only-secret",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "PII_DATABASE_URL": f"sqlite:///{workdir / 'pii.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "GUNICORN_WORKERS": str(bounds.workers),
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
    }


def _manage(env: dict[str, str], *args: str) -> str:
    done = run_manage(env, *args)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _prepare(env: dict[str, str]) -> None:
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "migrate", "--database", "pii", "--noinput", "-v", "0")


def _create_tenants(env: dict[str, str], count: int) -> list[tuple[int, str]]:
    out = _manage(env, "shell", "-c", TENANTS_CODE.format(n=count, mark=TENANTS_MARK))
    line = next(line for line in out.splitlines() if line.startswith(TENANTS_MARK))
    return [(tenant_id, token) for tenant_id, token in orjson.loads(line[len(TENANTS_MARK) :])]


def _drive(result: Result, server: Gunicorn, cluster, tenants, bounds: Bounds) -> list:
    """Run the clients; inject each fault once its share of the batches is done."""
    origin = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    origin -= dt.timedelta(hours=bounds.load().hours)
    threads, logs = start_clients(bounds.load(), port=server.port, tenants=tenants, origin=origin)
    pending = _schedule(bounds, cluster)
    total = bounds.clients * bounds.batches
    began = time.monotonic()
    while any(thread.is_alive() for thread in threads):
        done = sum(log.batches_done for log in logs)
        while pending and done >= pending[0][0] * total:
            _, fault = pending.pop(0)
            in_flight = sum(log.in_flight for log in logs)
            note = fault(result=result, server=server, cluster=cluster, bounds=bounds)
            result.faults.append(f"{note} at batch {done}/{total}, {in_flight} requests in flight")
        time.sleep(0.01)
    result.notes["load wall time"] = f"{time.monotonic() - began:.1f} s"
    result.failures.extend(f"fault not injected: {fault.__name__}" for _, fault in pending)
    return logs


def _schedule(bounds: Bounds, cluster) -> list:
    """(share of batches done, fault), in order: worker kills spread from 25 % on (two:
    at 25 % and 50 %), the PostgreSQL fault at 55 %."""
    kills = bounds.worker_kills
    faults = [(0.25 + 0.5 * i / kills, _kill_worker) for i in range(kills)]
    if cluster is not None:
        faults.append((0.55, _database_fault))
    return sorted(faults, key=lambda fault: fault[0])


def _kill_worker(*, result: Result, server: Gunicorn, **_) -> str:
    """kill -9 the oldest worker: a replacement may still be importing Django, while the
    oldest is surely serving requests."""
    workers = children_of(server.process.pid)
    if not workers:
        result.failures.append("no gunicorn worker to kill")
        return "no worker to kill"
    victim = min(workers, key=_start_time)
    os.kill(victim, signal.SIGKILL)  # a worker of the gunicorn this run started
    return f"kill -9 gunicorn worker {victim} (of {len(workers)})"


def _start_time(pid: int) -> int:
    """Clock ticks after boot at which the process started (/proc/<pid>/stat field 22)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _database_fault(*, result: Result, cluster: PrivatePostgres, bounds: Bounds, **_) -> str:
    began = time.monotonic()
    if bounds.pg_fault == "crash":
        cluster.crash()
    else:
        cluster.stop_fast()
    time.sleep(bounds.outage_seconds)
    cluster.start()
    result.outage = (began, time.monotonic())
    what = "kill -9 postmaster" if bounds.pg_fault == "crash" else "pg_ctl stop -m fast"
    return (
        f"{what}, start after {bounds.outage_seconds:g} s (down {time.monotonic() - began:.1f} s)"
    )


def _check_workers(result: Result, server: Gunicorn, bounds: Bounds) -> None:
    """The master replaced every killed worker (its children are workers only)."""
    deadline = time.monotonic() + 30
    while len(children_of(server.process.pid)) < bounds.workers and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = len(children_of(server.process.pid))
    result.notes["gunicorn workers after the run"] = f"{alive} of {bounds.workers}"
    if alive < bounds.workers:
        result.failures.append(f"gunicorn has {alive} workers, not {bounds.workers}")


# Requests that reached a worker during the outage may answer a little after it.
OUTAGE_GRACE = 3.0
MUST_BE_ZERO = (
    "events never acknowledged",
    "rejected receipts",
    "uuids stored twice",
    "acknowledged but not stored",
    "uuids accepted twice",
    "replayed items not duplicate",
    "stored rows nobody sent",
    "stored content differs",
    "rollup drift vs raw recount",
    "rollup drift vs client recount",
    "rebuild_hourly_counts --check exit code",
    "batches given up",
)


def _judge(result: Result) -> None:
    result.failures.extend(
        f"{name}: {result.counts[name]}" for name in MUST_BE_ZERO if result.counts.get(name)
    )
    if result.database == "sqlite":
        _judge_sqlite(result)
    else:
        _judge_postgresql(result)


def _judge_postgresql(result: Result) -> None:
    """While PostgreSQL is down, requests are refused with 503 and Retry-After (the
    clients retry them); a 500, a 503 without Retry-After, or any 5xx outside the outage
    is a server bug (a deadlock, a connection not recovered after the restart)."""
    not_503 = {
        label: n for label, n in result.answers.items() if label.startswith("5") and label != "503"
    }
    if not_503:
        result.failures.append(f"server errors other than 503 + Retry-After: {not_503}")
    began, ended = result.outage or (0.0, 0.0)
    outside = [t for t in result.server_errors_at if not began <= t <= ended + OUTAGE_GRACE]
    result.counts["5xx outside the database outage"] = len(outside)
    if outside:
        result.failures.append(f"{len(outside)} 5xx answers outside the database outage")


def _judge_sqlite(result: Result) -> None:
    """SQLite must queue writers: no "database is locked", no 500; a 503 only with
    Retry-After."""
    bad = {
        label: n
        for label, n in result.answers.items()
        if (label.startswith("5") and label != "503") or label == "503 without Retry-After"
    }
    if bad:
        result.failures.append(f"server errors reached clients: {bad}")
    for name in ("database is locked", "Internal Server Error"):
        if result.server_log.get(name):
            result.failures.append(f'server log: {result.server_log[name]} x "{name}"')


def parse_args(argv: list[str] | None) -> tuple[Bounds, list[str], bool]:
    defaults = Bounds()
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    for name in Bounds.__slots__:
        value = getattr(defaults, name)
        flag = "--" + name.replace("_", "-")
        if name == "pg_fault":
            parser.add_argument(flag, choices=("crash", "stop"), default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    parser.add_argument("--databases", default=",".join(DATABASES), help="postgresql,sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the logs and SQLite files")
    args = parser.parse_args(argv)
    bounds = Bounds(**{name: getattr(args, name) for name in Bounds.__slots__})
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    return bounds, databases, args.keep


def main(argv: list[str] | None = None) -> int:
    bounds, databases, keep = parse_args(argv)
    results = []
    for database in databases:
        workdir = Path(tempfile.mkdtemp(prefix=f"eventtracker-chaos-{database}-"))
        print(f"== {database}: {workdir}", file=sys.stderr, flush=True)
        result = run_database(database, bounds, workdir=workdir)
        results.append(result)
        if result.ok and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"   logs kept in {workdir}", file=sys.stderr)
    print(render(results))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
