"""Per-user activity periods (stats.services.user_activity_compute): UTC windows, catch-up,
idempotence, late events, deletions, anonymous events, tenancy."""

import datetime as dt
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.utils import timezone

from accounts.tenancy import scope_to_tenant
from core.ranges import MICROSECOND
from events.models import DeletionReceipt, Event, EventLog
from events.services import deletion_create
from events.tests.factories import EventLogFactory
from stats import services
from stats.models import JobState, UserActivityPeriod
from stats.services import JOB, LATE_MARGIN, period_floor, user_activity_compute


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> dt.datetime:
    """An instant of May 2024, UTC."""
    return dt.datetime(2024, 5, day, hour, minute, second, micro, tzinfo=dt.UTC)


def log(tenant, when: dt.datetime, user: str = "alice", *, count: int = 1, received=None):
    """One stored log of `tenant`'s event "e", received `received` (default: when it happened)."""
    event, _ = Event.objects.get_or_create(tenant=tenant, name="e")
    return EventLogFactory(
        event=event,
        timestamp=when,
        distinct_id=user,
        count=count,
        received_at=received or when,
    )


def periods(tenant) -> dict[tuple[str, dt.datetime], int]:
    """{(distinct_id, period_start): events} of a tenant; checks every period's length."""
    rows = UserActivityPeriod.objects.filter(tenant=tenant)
    found = {}
    for row in rows:
        assert row.period_end - row.period_start == dt.timedelta(hours=4)
        found[(row.distinct_id, row.period_start)] = row.events
    return found


def full_rows() -> list[tuple]:
    """Every stored row with every field but computed_at (when it was last recomputed)."""
    return list(
        UserActivityPeriod.objects.order_by("id").values_list(
            "id", "tenant_id", "distinct_id", "period_start", "period_end", "events"
        )
    )


def state() -> JobState:
    return JobState.objects.get(name=JOB)


# --- windows -----------------------------------------------------------------------


def test_an_event_at_a_boundary_opens_the_next_period(tenant):
    log(tenant, at(1, 3, 59, 59, 999999))
    log(tenant, at(1, 4))
    log(tenant, at(1, 7, 59, 59, 999999))

    user_activity_compute(now=at(2))

    assert periods(tenant) == {("alice", at(1, 0)): 1, ("alice", at(1, 4)): 2}
    row = UserActivityPeriod.objects.get(tenant=tenant, period_start=at(1, 4))
    assert row.period_end == at(1, 8)


@pytest.mark.parametrize("hours", [1, 2, 3, 4, 6, 8, 12, 24])
def test_every_allowed_length_aligns_on_utc_midnight(tenant, settings, hours):
    settings.USER_ACTIVITY_PERIOD_HOURS = hours
    length = dt.timedelta(hours=hours)
    # An event at every hour of a day, and one a microsecond before each.
    for hour in range(24):
        log(tenant, at(2, hour), user="on")
        log(tenant, at(2, hour) - MICROSECOND, user="before")

    user_activity_compute(now=at(4))

    expected: dict[tuple[str, dt.datetime], int] = {}
    for hour in range(24):
        for user, when in (("on", at(2, hour)), ("before", at(2, hour) - MICROSECOND)):
            key = (user, period_floor(when, length))
            expected[key] = expected.get(key, 0) + 1
    rows = UserActivityPeriod.objects.filter(tenant=tenant)
    assert {(row.distinct_id, row.period_start): row.events for row in rows} == expected
    assert {row.period_end - row.period_start for row in rows} == {length}


def test_the_current_period_waits_until_it_is_complete(tenant):
    log(tenant, at(1, 1))
    log(tenant, at(1, 4, 30))

    user_activity_compute(now=at(1, 7, 59))

    assert periods(tenant) == {("alice", at(1, 0)): 1}
    assert state().watermark == at(1, 4)

    user_activity_compute(now=at(1, 8))

    assert periods(tenant) == {("alice", at(1, 0)): 1, ("alice", at(1, 4)): 1}
    assert state().watermark == at(1, 8)


def test_first_run_starts_at_the_earliest_event(tenant):
    log(tenant, at(3, 10, 15))

    run = user_activity_compute(now=at(4, 1))

    assert run.caught_up == 4  # 08:00 and 12:00, 16:00, 20:00 on the 3rd
    assert periods(tenant) == {("alice", at(3, 8)): 1}
    assert state().watermark == at(4, 0)


def test_first_run_without_events_marks_everything_before_now_computed(db):
    run = user_activity_compute(now=at(1, 9))

    assert (run.caught_up, run.rows) == (0, 0)
    assert state().watermark == at(1, 8)
    assert not UserActivityPeriod.objects.exists()


# --- counting ----------------------------------------------------------------------


def test_events_are_the_sum_of_counts(tenant):
    log(tenant, at(1, 1), count=3)
    log(tenant, at(1, 2), count=4)
    log(tenant, at(1, 2), user="bob")

    user_activity_compute(now=at(2))

    assert periods(tenant) == {("alice", at(1, 0)): 7, ("bob", at(1, 0)): 1}


def test_anonymous_events_are_not_counted(tenant):
    log(tenant, at(1, 1), user="", count=5)
    log(tenant, at(1, 5), user="")
    log(tenant, at(1, 5), user="bob")

    user_activity_compute(now=at(2))

    assert periods(tenant) == {("bob", at(1, 4)): 1}


def test_tenants_are_counted_apart(tenant, other_tenant):
    log(tenant, at(1, 1), user="same", count=2)
    log(other_tenant, at(1, 1), user="same", count=5)
    log(other_tenant, at(1, 9), user="theirs")

    user_activity_compute(now=at(2))

    assert periods(tenant) == {("same", at(1, 0)): 2}
    assert periods(other_tenant) == {("same", at(1, 0)): 5, ("theirs", at(1, 8)): 1}


# --- catch-up and idempotence --------------------------------------------------------


def test_catch_up_computes_every_missed_period(tenant):
    log(tenant, at(1, 1))
    user_activity_compute(now=at(1, 4))
    # Down for five days: events kept arriving.
    missed = [at(1, 5), at(2, 0), at(3, 13), at(4, 23, 59), at(6, 2)]
    for when in missed:
        log(tenant, when)

    run = user_activity_compute(now=at(6, 6, 30))

    assert run.caught_up == 5 * 6  # 04:00 on the 1st to 04:00 on the 6th
    assert state().watermark == at(6, 4)
    assert periods(tenant) == {
        ("alice", start): 1
        for start in (at(1, 0), at(1, 4), at(2, 0), at(3, 12), at(4, 20), at(6, 0))
    }


def test_catch_up_resumes_from_a_watermark_set_back(tenant):
    for day in (1, 2, 3):
        log(tenant, at(day, 10), count=day)
    user_activity_compute(now=at(4))
    before = full_rows()
    UserActivityPeriod.objects.filter(period_start__gte=at(2)).delete()
    JobState.objects.filter(name=JOB).update(watermark=at(2))

    user_activity_compute(now=at(4))

    assert periods(tenant) == {("alice", at(day, 8)): day for day in (1, 2, 3)}
    assert [row[1:] for row in full_rows()] == [row[1:] for row in before]


def test_running_again_gives_the_same_rows(tenant, other_tenant):
    for hour in range(0, 24, 5):
        log(tenant, at(1, hour), user=f"u{hour % 3}", count=hour + 1)
        log(other_tenant, at(1, hour), user="x")
    user_activity_compute(now=at(2))
    first = full_rows()

    user_activity_compute(now=at(2, 1))
    again = full_rows()
    # Even recomputed from scratch, the rows (and their ids) stay as they were.
    JobState.objects.filter(name=JOB).update(watermark=None, received_mark=None)
    user_activity_compute(now=at(2, 2))

    assert len(first) == 10
    assert again == first
    assert full_rows() == first


# --- late events and deletions -------------------------------------------------------


def test_a_late_event_reopens_its_period(tenant):
    log(tenant, at(1, 1))
    user_activity_compute(now=at(3))
    log(tenant, at(1, 2), count=4, received=at(3, 0, 1))
    log(tenant, at(1, 22), user="newcomer", received=at(3, 0, 2))
    log(tenant, at(1, 13), user="", received=at(3, 0, 3))

    run = user_activity_compute(now=at(3, 0, 10))

    assert run.reopened == 2
    assert periods(tenant) == {("alice", at(1, 0)): 5, ("newcomer", at(1, 20)): 1}


def test_a_late_event_older_than_every_period_is_counted(tenant):
    log(tenant, at(10, 1))
    user_activity_compute(now=at(11))

    log(tenant, at(2, 9), received=at(11, 0, 5))
    user_activity_compute(now=at(11, 0, 10))

    assert periods(tenant) == {("alice", at(2, 8)): 1, ("alice", at(10, 0)): 1}


def test_a_log_committed_after_a_run_that_began_later_is_still_counted(tenant):
    log(tenant, at(1, 1))
    user_activity_compute(now=at(3))
    # Stamped received a minute before that run began, but committed after it had read.
    log(tenant, at(1, 2), received=at(3) - dt.timedelta(minutes=1))

    user_activity_compute(now=at(3, 0, 5))

    assert dt.timedelta(minutes=1) < LATE_MARGIN
    assert periods(tenant) == {("alice", at(1, 0)): 2}


def test_an_interrupted_run_resumes_and_still_sees_late_logs(tenant, monkeypatch):
    for day in (1, 2, 3):
        log(tenant, at(day, 1))
    real_recompute = services._recompute

    def crash_on_day_2(**kwargs):
        if kwargs["start"] >= at(2):
            raise DatabaseError("connection lost")
        return real_recompute(**kwargs)

    monkeypatch.setattr(services, "_recompute", crash_on_day_2)
    with pytest.raises(DatabaseError):
        user_activity_compute(now=at(4))
    assert state().watermark == at(2)
    log(tenant, at(1, 2), received=at(4, 0, 1))  # received while the first run was cut short

    monkeypatch.setattr(services, "_recompute", real_recompute)
    user_activity_compute(now=at(4, 0, 5))

    assert periods(tenant) == {
        ("alice", at(1, 0)): 2,
        ("alice", at(2, 0)): 1,
        ("alice", at(3, 0)): 1,
    }


def test_a_deletion_recomputes_the_periods_it_touched(tenant, other_tenant, api_client):
    log(tenant, at(1, 1))
    log(tenant, at(1, 5))
    log(tenant, at(1, 5), user="bob")
    log(other_tenant, at(1, 5))
    user_activity_compute(now=at(2))

    response = api_client.post(
        "/api/deletions/",
        {"distinct_id": "alice", "start": "2024-05-01T04:00:00Z"},
    )
    user_activity_compute(now=at(2, 0, 5))

    assert response.status_code == 201, response.content
    assert periods(tenant) == {("alice", at(1, 0)): 1, ("bob", at(1, 4)): 1}
    assert periods(other_tenant) == {("alice", at(1, 4)): 1}


def test_the_retention_purge_empties_old_periods(tenant):
    tenant.retention_days = 30
    tenant.save()
    now = timezone.now()
    recent = now - dt.timedelta(days=2)
    log(tenant, now - dt.timedelta(days=40))
    log(tenant, recent)
    user_activity_compute(now=now)
    assert len(periods(tenant)) == 2

    call_command("purge_expired", stdout=StringIO())
    user_activity_compute(now=now + dt.timedelta(minutes=5))

    assert list(periods(tenant)) == [("alice", period_floor(recent, dt.timedelta(hours=4)))]


def purge(tenant, *, end: dt.datetime, on_chunk=None) -> DeletionReceipt:
    """The retention purge's deletion of every log of `tenant` before `end`, a log a chunk."""
    return deletion_create(
        tenant=tenant,
        logs=scope_to_tenant(EventLog.objects.all(), tenant).between(end=end),
        reason=DeletionReceipt.Reason.RETENTION,
        filters={"end": end.isoformat()},
        chunk=1,
        atomic=False,
        on_chunk=on_chunk,
    )


def test_a_deletion_that_commits_long_after_it_began_is_still_followed(tenant):
    """A receipt is stamped when its deletion begins; a large erasure or a purge may
    commit its rows long after that, past the run's look-back: it is followed all the same."""
    log(tenant, at(1, 1))
    log(tenant, at(1, 5))
    user_activity_compute(now=at(3))

    purge(tenant, end=at(2))
    DeletionReceipt.objects.update(created_at=at(3) - dt.timedelta(hours=1))
    user_activity_compute(now=at(3, 0, 5))

    assert periods(tenant) == {}
    assert user_activity_compute(now=at(3, 0, 10)).reopened == 0  # followed once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the purge commits each chunk, as in the jobs
def test_a_run_during_a_purge_in_chunks_leaves_no_deleted_log_counted(tenant):
    """The run meets the purge with its first chunk not committed yet; the runs after it
    still see every chunk (each commits long after the receipt was made)."""
    now = timezone.now()
    for hour in (1, 5, 9, 13):
        log(tenant, at(1, hour), received=now)
    user_activity_compute(now=now)
    in_chunk, release, errors = threading.Event(), threading.Event(), []

    def hold_first_chunk(_removed: int) -> None:
        if not in_chunk.is_set():
            in_chunk.set()
            release.wait(timeout=30)

    def purging() -> None:
        try:
            purge(tenant, end=now, on_chunk=hold_first_chunk)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    purger = threading.Thread(target=purging)
    purger.start()
    assert in_chunk.wait(timeout=30)
    try:
        user_activity_compute(now=now + dt.timedelta(minutes=10))
    finally:
        release.set()
        purger.join(timeout=30)
    user_activity_compute(now=now + dt.timedelta(minutes=15))

    assert errors == []
    assert periods(tenant) == {}


def test_a_new_period_length_recomputes_every_period(tenant, settings):
    log(tenant, at(1, 3))
    log(tenant, at(1, 5))
    user_activity_compute(now=at(2))
    settings.USER_ACTIVITY_PERIOD_HOURS = 6

    user_activity_compute(now=at(2, 0, 5))

    rows = UserActivityPeriod.objects.filter(tenant=tenant)
    assert {(row.period_start, row.period_end, row.events) for row in rows} == {
        (at(1, 0), at(1, 6), 2)
    }
    assert state().watermark == at(2)


def test_days_without_logs_are_passed_at_once(tenant, django_assert_max_num_queries):
    """A log of 1970 and one of 2024: the catch-up computes their days, not the 19,848
    between them one transaction each."""
    log(tenant, dt.datetime(1970, 1, 1, 9, tzinfo=dt.UTC), count=2)
    log(tenant, at(3, 10))
    UserActivityPeriod.objects.create(  # a row whose log is gone: it goes too
        tenant=tenant,
        distinct_id="ghost",
        period_start=at(1, 4),
        period_end=at(1, 8),
        events=1,
        computed_at=at(1, 9),
    )

    with django_assert_max_num_queries(60):
        run = user_activity_compute(now=at(4, 1))

    assert periods(tenant) == {
        ("alice", dt.datetime(1970, 1, 1, 8, tzinfo=dt.UTC)): 2,  # no "ghost"
        ("alice", at(3, 8)): 1,
    }
    first = dt.datetime(1970, 1, 1, 8, tzinfo=dt.UTC)  # the first log's period
    assert run.caught_up == (at(4) - first) // dt.timedelta(hours=4)
    assert state().watermark == at(4, 0)
