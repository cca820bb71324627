"""core.locks.retry_deadlocks against a real deadlock: two transactions that take two
locks in opposite orders, on PostgreSQL (whose deadlock detector picks a victim)."""

import threading
import time
from contextlib import nullcontext

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections, transaction

from core.locks import lock_until_commit, retry_deadlocks, waiting_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _crossed(first: str, second: str, barrier: threading.Barrier, runs: list[str]):
    """A transaction that takes `first`, waits until the other one holds its own first
    lock (the first attempt only), then takes `second`."""

    def work() -> None:
        runs.append(first)
        with transaction.atomic():
            lock_until_commit(first)
            if runs.count(first) == 1:
                barrier.wait(timeout=10)
            lock_until_commit(second)

    return work


def _in_thread(work, outcomes: dict, name: str, *, outer: bool = False) -> threading.Thread:
    """retry_deadlocks(work) in a thread of its own (with `outer`, inside a transaction):
    `outcomes[name]` is "done" or the error it raised."""

    def run() -> None:
        try:
            with transaction.atomic() if outer else nullcontext():
                retry_deadlocks(work)
            outcomes[name] = "done"
        except OperationalError as exc:
            outcomes[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_victim_of_a_deadlock_is_run_again_and_both_finish():
    barrier = threading.Barrier(2)
    runs: list[str] = []
    outcomes: dict = {}

    threads = [
        _in_thread(_crossed("a", "b", barrier, runs), outcomes, "ab"),
        _in_thread(_crossed("b", "a", barrier, runs), outcomes, "ba"),
    ]
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes == {"ab": "done", "ba": "done"}
    # Each ran once, and the one PostgreSQL aborted ran a second time.
    assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])


def test_inside_an_outer_transaction_the_deadlock_is_the_callers():
    barrier = threading.Barrier(2)
    runs: list[str] = []
    outcomes: dict = {}

    threads = [
        _in_thread(_crossed("c", "d", barrier, runs), outcomes, "cd", outer=True),
        _in_thread(_crossed("d", "c", barrier, runs), outcomes, "dc", outer=True),
    ]
    for thread in threads:
        thread.join(timeout=30)

    # The victim's outer transaction is aborted: running the work again inside it could
    # only fail, so the error is raised to the caller, and the other one finishes.
    assert sorted(runs) == ["c", "d"]
    assert sorted(str(outcome) == "done" for outcome in outcomes.values()) == [False, True]
    failed = next(o for o in outcomes.values() if o != "done")
    assert "deadlock detected" in str(failed)


def test_a_migrate_waits_for_another_to_end():
    """Web containers migrating as they start take turns (core/management/commands/
    migrate.py): one waits on the lock while another migrates."""
    holding, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def other_migrate() -> None:
        try:
            with waiting_lock("migrate"):
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    def migrate() -> None:
        try:
            call_command("migrate", verbosity=0)
            outcome.append("migrated")
        finally:
            connections.close_all()

    other = threading.Thread(target=other_migrate)
    other.start()
    assert holding.wait(timeout=30)
    second = threading.Thread(target=migrate)
    second.start()
    waited = _advisory_waiters(within=30)
    release.set()
    other.join(timeout=30)
    second.join(timeout=60)

    assert waited == 1  # the second migrate, waiting on the first's lock
    assert outcome == ["migrated"]


def _advisory_waiters(*, within: float) -> int:
    """How many sessions of this database wait for an advisory lock, once one does (or
    after `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            waiting = cursor.fetchone()[0]
        if waiting or time.monotonic() > deadline:
            return waiting
        time.sleep(0.05)
