"""The order of a tenant's locks (events.sketches.lock_sketches): a deletion takes the
tenant's sketch lock before any row, so a fold holding that lock and waiting, as it
commits, for the key share of an event the deletion locked cannot wait in a cycle with
it. The test stops the fold at the bad moment and checks that both sides end with no
deadlock (PostgreSQL and Citus; SQLite's writers take turns)."""

import datetime as dt
import logging
import threading

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from events.models import DeletionReceipt, EventLog, HourlyUserSet
from events.rollups import fold_counters
from events.services import deletion_create
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_event_deletion import _in_thread, _wait_for, _waiting
from events.tests.test_rollups import recount, rollup
from events.usersets import build_user_sets

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 5, 1, hour, minute, tzinfo=dt.UTC)


def _collect(failures: list, work) -> None:
    try:
        work()
    except DatabaseError as exc:
        failures.append(repr(exc))


def _holding(prepare, holding: threading.Event, release: threading.Event) -> None:
    """In a transaction: `prepare()`, then hold its locks until `release`, then roll back."""
    with transaction.atomic():
        prepare()
        holding.set()
        release.wait(timeout=30)
        transaction.set_rollback(True)


def _deadlocks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Deadlock" in r.getMessage()]


def test_logs_deleted_by_event_name_while_a_fold_forgets_their_sets_deadlock_neither(
    tenant, caplog
):
    """A fold of late logs holds the sketch lock (deleting the sets of their hours, held
    up here by a lock on a set) and has a new counter row of the event to check as it
    commits; a deletion by event name meanwhile locks the event's row along with its logs
    (the join), then needs the sketch lock for the users' numbers. It must take that lock
    before the rows."""
    event = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=event, distinct_id="alice", timestamp=at(1))
    fold_counters()
    build_user_sets(now=timezone.now())
    for hour in (1, 2):  # late logs: hour 2 is a new counter row, hour 1 has sets
        EventLogFactory(event=event, distinct_id="bob", timestamp=at(hour, 30))
    holding, release, failures = threading.Event(), threading.Event(), []

    def lock_a_set() -> None:
        list(HourlyUserSet.objects.filter(tenant=tenant, hour=at(1)).select_for_update())

    def fold() -> None:
        fold_counters()

    def delete_by_name() -> None:
        logs = EventLog.objects.filter(tenant=tenant, event__name="click")
        deletion_create(tenant=tenant, logs=logs, reason="filter", filters={})

    caplog.set_level(logging.WARNING, logger="core.locks")
    threads = [_in_thread(_holding, lock_a_set, holding, release)]
    assert holding.wait(timeout=10)
    threads.append(_in_thread(_collect, failures, fold))
    assert _wait_for(lambda: _waiting(("transactionid", "tuple")))  # the fold, on a set
    threads.append(_in_thread(_collect, failures, delete_by_name))
    assert _wait_for(lambda: _waiting(("advisory",)))  # the deletion, on the sketch lock
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert _deadlocks(caplog) == []
    assert DeletionReceipt.objects.get(tenant=tenant).events_deleted == 3
    assert rollup(tenant) == recount(tenant) == {}
