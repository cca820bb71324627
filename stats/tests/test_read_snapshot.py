"""A stats answer read from the daily rollup takes several statements (the whole days,
the part of each edge's day before it, the first minutes of an edge's hour in a :30
zone). At READ COMMITTED each statement sees what has committed by its start, so an
event committed between two of them was counted by one part and not the other: the
answer matched no moment (an event before the range subtracted from it, a total below
zero). Real threads and connections: the event commits from another connection, on
SQLite (a file, in WAL mode) as on PostgreSQL."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connections

from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
from events.services import event_delete, event_logs_ingest
from events.validation import EventInput
from stats import day_rollup, selectors
from stats.selectors import event_frequency, event_trend

RECEIVED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def _ingest(tenant, at: dt.datetime, count: int) -> None:
    item = EventInput("buy", timestamp=at, count=count)
    event_logs_ingest(tenant=tenant, items=[item], created_by=None, now=RECEIVED)


def _ingest_elsewhere(tenant, at: dt.datetime, count: int) -> None:
    """Store an event from another connection, committed before this returns."""
    _elsewhere(lambda: _ingest(tenant, at, count))


def _elsewhere(write) -> None:
    """Run `write` on another connection, committed before this returns."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            write()
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the other connection waited for this one"
    if errors:
        raise errors[0]


def _commit_before(monkeypatch, name: str, tenant, at: dt.datetime, count: int) -> None:
    """Just before stats.day_rollup's `name` runs its query (the first time), another
    connection commits an event of `count` at `at`."""
    real = getattr(day_rollup, name)
    done: list[bool] = []

    def late(*args, **kwargs):
        if not done:
            done.append(True)
            _ingest_elsewhere(tenant, at, count)
        return real(*args, **kwargs)

    monkeypatch.setattr(day_rollup, name, late)


def _rows(tenant) -> dict:
    return {
        "rollup": HourlyCountTotal.objects.filter(tenant=tenant),
        "daily": DailyCountTotal.objects.filter(tenant=tenant),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("connected", [True, False], ids=["connected", "reconnecting"])
def test_a_frequency_is_read_at_one_moment(tenant, monkeypatch, connected):
    """New York's 1 May is 04:00 UTC on 1 May to 04:00 on 2 May. An event at 02:00 UTC
    on 1 May (30 April in New York) commits after the whole UTC days were summed and
    before the part of 1 May before 04:00 is taken away: it was subtracted from a total
    that never held it."""
    _ingest(tenant, dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), 1)
    _commit_before(monkeypatch, "_before", tenant, dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC), 5)

    day = dt.date(2024, 5, 1)
    if not connected:  # SQLite: connecting set the settings' IMMEDIATE again, whose
        connections["default"].close()  # write lock held the other connection off
    answer = event_frequency(
        events=Event.objects.filter(tenant=tenant),
        start=day,
        end=day,
        tz=ZoneInfo("America/New_York"),
        **_rows(tenant),
    )

    assert EventLog.objects.filter(tenant=tenant).count() == 2  # the other one committed
    assert answer == [{"event_name": "buy", "total": 1}]  # 30 April's event is not in it


@pytest.mark.django_db(transaction=True)
def test_a_trend_in_a_half_hour_zone_is_read_at_one_moment(tenant, monkeypatch):
    """Kolkata's 1 May begins at 18:30 UTC on 30 April. An event at 18:10 UTC (23:40 on
    30 April in Kolkata) commits after the whole days were read and before the first 30
    minutes of the 18:00 hour: it was added to 30 April and taken from 1 May, whose
    whole days never held it."""
    _ingest(tenant, dt.datetime(2024, 5, 1, 6, tzinfo=dt.UTC), 1)
    _commit_before(
        monkeypatch,
        "_first_minutes",
        tenant,
        dt.datetime(2024, 4, 30, 18, 10, tzinfo=dt.UTC),
        5,
    )

    trend = event_trend(
        logs=EventLog.objects.filter(tenant=tenant),
        events=Event.objects.filter(tenant=tenant),
        start=dt.date(2024, 4, 30),
        end=dt.date(2024, 5, 2),
        tz=ZoneInfo("Asia/Kolkata"),
        **_rows(tenant),
    )

    assert EventLog.objects.filter(tenant=tenant).count() == 2
    # Read before the other commit ({}) or after it ({"buy": 5}); 1 May holds one event.
    assert trend["2024-05-01"] == {"buy": 1}
    assert trend["2024-04-30"] in ({}, {"buy": 5})


@pytest.mark.django_db(transaction=True)
def test_a_trend_names_the_events_it_counted(tenant, monkeypatch):
    """The event is deleted (from another connection) after its day totals were read and
    before the events' names: the trend named an event that was gone (a KeyError, 500)."""
    _ingest(tenant, dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), 1)
    real = selectors.bucket_totals

    def then_delete(**kwargs):
        totals = real(**kwargs)
        _elsewhere(
            lambda: event_delete(
                tenant=tenant,
                event=Event.objects.get(tenant=tenant, name="buy"),
                logs=EventLog.objects.filter(tenant=tenant),
            )
        )
        return totals

    monkeypatch.setattr(selectors, "bucket_totals", then_delete)

    trend = event_trend(
        logs=EventLog.objects.filter(tenant=tenant),
        events=Event.objects.filter(tenant=tenant),
        start=dt.date(2024, 5, 1),
        end=dt.date(2024, 5, 2),
        tz=ZoneInfo("UTC"),
        **_rows(tenant),
    )

    assert not Event.objects.filter(tenant=tenant).exists()  # the other one committed
    assert trend == {"2024-05-01": {"buy": 1}, "2024-05-02": {}}  # as before the deletion
