"""Approximate active users (?approximate=true): HyperLogLog sketches of closed hours,
never answering for rows they have not seen — late events, deletions, erasures and
deleted events included — in zones with :30 offsets too; exact elsewhere."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from events.models import EventLog, HourlyCountIncrement, HourlyUserSketch
from events.rollups import fold_counters
from events.services import event_delete
from events.sketches import BUILD_BATCH, HOUR, build_user_sketches, hll_ready, hour_runs
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.property import examples, fresh_tenant
from stats.active_users import RELATIVE_ERROR, Sketches, active_users
from stats.tests.recount import (
    START,
    assert_rows_equal_a_recount,
    built_then_changed,
    user_minutes,
)

UTC = dt.UTC
URL = "/api/stats/active_users"
LATER = START + dt.timedelta(days=400)  # every hour of the data is closed by then


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, tzinfo=UTC)


def sketches_of(tenant) -> Sketches:
    return Sketches(
        HourlyUserSketch.objects.filter(tenant=tenant),
        HourlyCountIncrement.objects.filter(tenant=tenant),
    )


@pytest.mark.django_db
def test_without_hll_an_approximate_answer_is_exact_and_says_so(api_client, tenant):
    EventLogFactory(event=EventFactory(tenant=tenant), distinct_id="a", timestamp=at(3))
    query = {"start_date": "2024-01-03", "end_date": "2024-01-03", "approximate": "true"}

    rows = api_client.get(URL, {**query, "event_name": EventLog.objects.get().event.name}).json()

    # Per-event answers are exact everywhere; any event's are approximate only with hll.
    assert rows[0]["dau"] == 1
    assert (rows[0]["approximate"], rows[0]["relative_error"]) == (False, 0.0)
    anything = api_client.get(URL, query).json()[0]
    assert anything["approximate"] is hll_ready()
    assert anything["relative_error"] == (RELATIVE_ERROR if hll_ready() else 0.0)
    assert "approximate" not in api_client.get(URL, {**query, "approximate": "false"}).json()[0]


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_sketches_answer_closed_hours_and_rows_the_rest(api_client, tenant, other_tenant):
    event = EventFactory(tenant=tenant, name="open")
    for user, day, hour in [("a", 1, 9), ("b", 1, 23), ("a", 2, 0), ("c", 8, 12), ("", 8, 13)]:
        EventLogFactory(event=event, distinct_id=user, timestamp=at(day, hour))
    EventLogFactory(event=EventFactory(tenant=other_tenant), distinct_id="z", timestamp=at(1))
    fold_counters()

    built = build_user_sketches(now=LATER)
    EventLogFactory(event=event, distinct_id="d", timestamp=at(1, 9))  # late, in a sketched hour
    query = {"start_date": "2024-01-01", "end_date": "2024-01-08", "window": 7, "tz": "UTC"}
    approximate = api_client.get(URL, {**query, "approximate": "true"}).json()
    exact = api_client.get(URL, query).json()

    assert built == 6  # the hours of both tenants with events (the 8th's anonymous one too)
    assert HourlyUserSketch.objects.filter(tenant=tenant).count() == 5
    assert all(row["approximate"] for row in approximate)
    strip = {"approximate", "relative_error"}
    assert [{k: v for k, v in row.items() if k not in strip} for row in approximate] == exact
    assert [row["dau"] for row in approximate] == [3, 1, 0, 0, 0, 0, 0, 1]

    fold_counters()  # the late event's hour: its sketch goes, its rows answer
    assert not HourlyUserSketch.objects.filter(tenant=tenant, hour=at(1, 9)).exists()
    assert api_client.get(URL, {**query, "approximate": "true"}).json()[0]["dau"] == 3


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_deleted_event_leaves_no_user_in_the_sketches(tenant):
    kept, dropped = EventFactory(tenant=tenant, name="kept"), EventFactory(tenant=tenant)
    EventLogFactory(event=kept, distinct_id="a", timestamp=at(1, 9))
    EventLogFactory(event=dropped, distinct_id="b", timestamp=at(1, 9))
    fold_counters()
    build_user_sketches(now=LATER)

    event_delete(tenant=tenant, event=dropped, logs=EventLog.objects.filter(tenant=tenant))
    build_user_sketches(now=LATER)
    rows = active_users(
        logs=EventLog.objects.filter(tenant=tenant),
        start=at(1).date(),
        end=at(1).date(),
        tz=ZoneInfo("UTC"),
        sketches=sketches_of(tenant),
    )

    assert rows[0]["dau"] == 1
    assert rows[0]["approximate"] is True


@pytest.mark.postgres
class ApproximateActiveUsersEqualRecountTests(TestCase):
    """Few users: a sketch of them is exact (hll keeps small sets explicitly), so every
    approximate count must equal a recount, whatever was sketched, changed or erased."""

    @examples(40)
    @given(
        logs=user_minutes(days=40, max_size=30),
        late=user_minutes(days=40, users=("u5", "u1")),
        fold_late=st.booleans(),
        erase=st.none() | st.sampled_from(["u1", "u2"]),
        zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]),
        window=st.integers(1, 40),
        first=st.integers(0, 35),
        days=st.integers(0, 10),
    )
    def test_every_window_equals_a_recount(
        self, logs, late, fold_late, erase, zone, window, first, days
    ):
        note(repr((logs, late, fold_late, erase, zone, window, first, days)))
        tenant = fresh_tenant()
        built_then_changed(
            tenant,
            logs,
            late,
            build=lambda: build_user_sketches(now=LATER),
            fold_late=fold_late,
            erase=erase,
        )
        tz = ZoneInfo(zone)
        start = (START + dt.timedelta(days=first)).date()
        end = start + dt.timedelta(days=days)
        logs_of_tenant = EventLog.objects.filter(tenant=tenant)

        rows = active_users(
            logs=logs_of_tenant,
            start=start,
            end=end,
            tz=tz,
            window=window,
            sketches=sketches_of(tenant),
        )

        assert connection.vendor == "postgresql"
        assert all(row["approximate"] is True for row in rows)
        assert_rows_equal_a_recount(
            rows, logs_of_tenant, tz=tz, start=start, days=days, window=window
        )


def test_hours_are_built_in_runs_of_consecutive_hours():
    hours = [at(1, h) for h in (0, 1, 2, 5, 6)] + [at(3, 0) + HOUR * n for n in range(50)]

    runs = list(hour_runs(hours, BUILD_BATCH))

    assert runs == [
        (at(1, 0), at(1, 2)),
        (at(1, 5), at(1, 6)),
        (at(3, 0), at(3, 0) + HOUR * (BUILD_BATCH - 1)),  # at most BUILD_BATCH hours a run
        (at(3, 0) + HOUR * BUILD_BATCH, at(3, 0) + HOUR * 49),
    ]
    assert list(hour_runs([], BUILD_BATCH)) == []
