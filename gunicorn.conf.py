"""Gunicorn settings for eventtracker, read from the environment and the env file.

`gunicorn -c gunicorn.conf.py` is enough: the app is named here. Local default binds
to loopback only; the container sets GUNICORN_BIND=0.0.0.0:8000 (docker-compose.yml).
"""

import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import environ
from gunicorn.glogging import Logger

# The gunicorn script's folder is on sys.path, not the project's (gunicorn adds it only
# after reading this file); core.logredact is standard library only.
_PROJECT = os.path.dirname(os.path.abspath(__file__))
if _PROJECT not in sys.path:
    sys.path.insert(0, _PROJECT)
from core.logredact import escape_controls, redact_person_paths  # noqa: E402 - after sys.path

# The same file the Django settings read (DJANGO_ENV_FILE, else .env next to this file),
# so GUNICORN_* set there count for `make gunicorn` too; real environment variables win.
environ.Env.read_env(
    Path(os.environ.get("DJANGO_ENV_FILE") or Path(_PROJECT) / ".env"),
    overwrite=False,
)


def _env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """An integer from the environment, refusing junk with a message naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _available_cpus() -> int:
    # sched_getaffinity honours cpusets (docker --cpuset-cpus); cpu_count sees the host.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Each worker thread may hold its own database connection (CONN_MAX_AGE), so
# workers * threads must stay well under PostgreSQL's max_connections (100 by default).
_MAX_DEFAULT_WORKERS = 8

wsgi_app: str = "eventtracker.wsgi"
bind: list[str] = [os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"]
workers: int = _env_int("GUNICORN_WORKERS", min(2 * _available_cpus() + 1, _MAX_DEFAULT_WORKERS))
# threads > 1 selects the gthread worker: a slow client or query no longer blocks a process.
threads: int = _env_int("GUNICORN_THREADS", 4)
timeout: int = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout: int = 30
keepalive: int = 5

# Logs go to the process streams; the container runtime collects them.
# GUNICORN_ACCESS_LOG=off leaves the access log out (a proxy in front logs requests).
_access_log = os.environ.get("GUNICORN_ACCESS_LOG", "").strip().lower() or "on"
if _access_log not in ("on", "off"):
    raise ValueError(f"GUNICORN_ACCESS_LOG must be on or off, got {_access_log!r}")
accesslog: str | None = "-" if _access_log == "on" else None
# The path only, never the query string (the tracker sends its ingest key as ?key=, and
# queries carry distinct_ids) nor the Referer (a page URL, with the same problem), and
# the path without the email or distinct_id of a people route (_RedactingLogger):
# client, user, time, "METHOD /path PROTOCOL", status, bytes, user agent, milliseconds.
access_log_format: str = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'
errorlog: str = "-"
loglevel: str = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers into timeouts.
if os.path.isdir("/dev/shm"):  # noqa: S108 - a fixed system path, not a temp file name
    worker_tmp_dir: str = "/dev/shm"  # noqa: S108

# gunicornc's control socket would live in $HOME, which the container user has not got
# and which two local servers would share; nothing here uses it.
control_socket_disable: bool = True


_URL_SECRET = re.compile(r"([?&](?:key|token)=)[^&\s\"']+", re.IGNORECASE)


def redact_url_secrets(text: str) -> str:
    """`?key=et_…` → `?key=[redacted]`, wherever a URL appears in a message."""
    return _URL_SECRET.sub(r"\1[redacted]", text)


def _redact(text: str) -> str:
    return redact_person_paths(redact_url_secrets(text))


class _RedactUrlSecrets(logging.Filter):
    """gunicorn's error log quotes the URI of a request it could not parse or handle
    ("Invalid request from ip=…", "Error handling request GET /…?key=…"), control
    characters escaped so that it stays one line; a traceback (the message of a failed
    access log line) keeps its lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = _redact(str(record.msg))
        record.msg = (
            msg if msg.startswith("Traceback (most recent call last)") else escape_controls(msg)
        )
        if isinstance(record.args, tuple):
            record.args = tuple(
                escape_controls(_redact(arg)) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


class _OneLine(logging.Filter):
    """An access-log line with the control characters of its values (the path, a header
    such as the User-Agent) escaped (\\x0a, \\u2028), so that a request cannot end its
    line and write a fake one after it (the path is URL-decoded: %0A is a line break).
    Once per line, as formatted: cheaper than each of the dozens of atoms."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = escape_controls(record.getMessage())
        record.args = None
        return True


class _RedactingLogger(Logger):
    """The access log's path and request line without a people route's email or
    distinct_id (/api/people/[redacted]/export), whatever access_log_format says; its
    lines one line each (_OneLine)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if not any(isinstance(f, _OneLine) for f in self.access_log.filters):
            self.access_log.addFilter(_OneLine())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("U", "r"):
            if isinstance(atoms.get(name), str):
                atoms[name] = _redact(atoms[name])
        return atoms


logger_class = _RedactingLogger


# In the master, before workers fork (so they inherit it): the error log's redaction; and
# Prometheus multiprocess mode: every worker writes its metrics to files in one folder,
# and /metrics merges them, a fresh folder per server start (stale files would count twice).
def on_starting(server) -> None:
    server.log.error_log.addFilter(_RedactUrlSecrets())
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Kept on the arbiter, which outlives a reload (SIGHUP re-reads this file).
        server.created_metrics_dir = tempfile.mkdtemp(prefix="eventtracker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = server.created_metrics_dir


def on_exit(server) -> None:
    """The folder on_starting made goes with the server (each start makes a fresh one);
    one given in PROMETHEUS_MULTIPROC_DIR is the caller's to keep."""
    created = getattr(server, "created_metrics_dir", None)
    if created:
        shutil.rmtree(created, ignore_errors=True)


def post_worker_init(worker) -> None:
    """Once the worker has loaded the app: what it loaded is kept out of the garbage
    collector's full passes (core.collector.freeze_loaded)."""
    from core.collector import freeze_loaded

    frozen = freeze_loaded()
    worker.log.info("Worker %s: %d objects kept out of the collector's reach.", worker.pid, frozen)


def child_exit(server, worker) -> None:
    """A dead worker's live gauges must stop counting (prometheus-client multiprocess)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
