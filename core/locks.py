"""Named locks: for periodic jobs, held by one process at a time across machines; and
transaction-scoped ones that order concurrent writers.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on the job's name; the
server releases it if the process dies or its connection drops, so a crashed job never
blocks the next. SQLite (one machine, one database file): an exclusive `flock` on a file
beside the database, which the kernel releases the same way.
"""

import fcntl
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEADLOCK_ATTEMPTS = 3
_held = threading.local()  # names this thread holds: its connection, its flocks


@contextmanager
def try_lock(name: str) -> Iterator[bool]:
    """Yields True while this process holds the lock `name`, or False at once if another
    process holds it (the caller then skips its work). Nested in this thread (run_jobs
    running a command that takes its job's lock itself), it is held already: True.
    (A second flock of the same file, unlike an advisory lock, would refuse its owner.)"""
    names: set[str] = _held.__dict__.setdefault("names", set())
    if name in names:
        yield True
        return
    lock = _advisory_lock if connection.vendor == "postgresql" else _file_lock
    with lock(name) as held:
        if held:
            names.add(name)
        try:
            yield held
        finally:
            names.discard(name)


@contextmanager
def waiting_lock(name: str, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Wait for, then hold while the block runs, the lock `name` on the database `using`:
    a session advisory lock, released by the server too if the process dies. SQLite:
    nothing (one machine, and its writers take turns already)."""
    database = connections[using]
    if database.vendor != "postgresql":
        yield
        return
    key = _key(name)
    with database.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        _advisory_unlock(key, database)


def lock_until_commit(name: str) -> None:
    """Wait for, then hold until the current transaction ends, the lock `name`.
    PostgreSQL: a transaction advisory lock. SQLite: nothing, its writers take turns
    already (a transaction takes the database's write lock as it begins)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_key(name)])


def try_share_until_commit(name: str) -> bool:
    """Share, until the current transaction ends, the lock `name` with its other sharers,
    if that is possible at once: False (nothing held) while `lock_until_commit` holds it
    or waits for it. PostgreSQL; SQLite: True (its writers take turns already)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", [_key(name)])
        return cursor.fetchone()[0]


def retry_deadlocks(work: Callable[[], T], *, attempts: int = DEADLOCK_ATTEMPTS) -> T:
    """`work()` (a transaction of its own), run again when PostgreSQL aborts it as the
    victim of a deadlock, up to `attempts` times in all. Inside an outer transaction it
    runs once: the aborted transaction is the caller's to retry."""
    attempt = 1
    while True:
        try:
            return work()
        except OperationalError as exc:
            deadlocked = isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)
            if not deadlocked or connection.in_atomic_block or attempt >= attempts:
                raise
            logger.warning("Deadlock, attempt %s of %s; retrying.", attempt, attempts)
            attempt += 1


def _key(name: str) -> int:
    key = int.from_bytes(hashlib.sha256(f"eventtracker:{name}".encode()).digest()[:8], "big")
    return key - (1 << 63)  # a signed bigint, as the functions take


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = _key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            _advisory_unlock(key)


def _advisory_unlock(key: int, database: BaseDatabaseWrapper = connection) -> None:
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    except DatabaseError:
        database.close()  # a broken connection has released the lock already


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    database = Path(connection.settings_dict["NAME"])
    path = database.with_name(f"{database.name}-{name}.lock")  # as *.sqlite3-* files
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
