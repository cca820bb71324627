"""Counter increments and their fold: readers are exact before, during and after a fold,
a deleted bucket disappears, and (PostgreSQL) ingestion of one tenant never waits for
another request's counter row."""

import datetime as dt
import threading
import time

import pytest
from django.db import connections, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from events.models import (
    DailyCount,
    DailyCountTotal,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    HourlyCountTotal,
    IngestionCount,
    IngestionCountIncrement,
    IngestionCountTotal,
)
from events.rollups import HOURLY_AMOUNTS, HOURLY_KEYS, fold_counters
from events.services import deletion_create, event_logs_ingest
from events.tests.factories import EventFactory
from events.validation import EventInput

T0 = dt.datetime(2024, 3, 10, 6, 15, tzinfo=dt.UTC)
RECEIVED = T0 + dt.timedelta(days=2)  # after every event time here (ingestion checks it)


def ingest(tenant, *items: EventInput) -> None:
    event_logs_ingest(tenant=tenant, items=list(items), created_by=None, now=RECEIVED)


def summed(view, bucket: str, tenant) -> dict:
    """{(event name, bucket): count} of a rollup view, empty buckets left out."""
    rows = view.objects.filter(tenant=tenant).values_list("event__name", bucket)
    return {(name, at): n for name, at, n in rows.annotate(n=Sum("count")) if n}


def totals(tenant) -> dict[tuple[str, dt.datetime], int]:
    return summed(HourlyCountTotal, "hour", tenant)


def test_the_fold_runs_with_queries_logged_as_under_debug(tenant):
    """DEBUG (`make run`) logs each query by formatting it with its parameters: the fold's
    SQL holds no literal `%` that the formatting would take for a placeholder."""
    ingest(tenant, EventInput("a", timestamp=T0), EventInput("a", timestamp=T0))
    pending = HourlyCountIncrement.objects.count() + IngestionCountIncrement.objects.count()

    with CaptureQueriesContext(connections["default"]) as captured:
        assert fold_counters() == pending

    assert captured.captured_queries  # the fold's statements were logged
    assert not HourlyCountIncrement.objects.exists()
    assert summed(DailyCount, "day", tenant) == {("a", T0.date()): 2}


def test_increments_count_before_the_fold_and_move_in_it(tenant):
    ingest(tenant, EventInput("a", timestamp=T0, count=2), EventInput("a", timestamp=T0))
    ingest(tenant, EventInput("b", timestamp=T0 + dt.timedelta(hours=1)))
    expected = {("a", T0.replace(minute=0)): 3, ("b", T0.replace(minute=0, hour=7)): 1}

    assert not HourlyCount.objects.exists()
    assert totals(tenant) == expected

    pending = HourlyCountIncrement.objects.count() + IngestionCountIncrement.objects.count()
    assert fold_counters() == pending
    assert not HourlyCountIncrement.objects.exists()
    assert not IngestionCountIncrement.objects.exists()
    assert totals(tenant) == expected
    folded = dict(HourlyCount.objects.values_list("event__name", "count"))
    assert folded == {"a": 3, "b": 1}


def days(tenant) -> dict[tuple[str, dt.date], int]:
    return summed(DailyCountTotal, "day", tenant)


def test_the_fold_keeps_the_daily_rollup_from_the_same_increments(tenant):
    late = T0.replace(hour=23, minute=59)  # the last minute of the UTC day
    ingest(tenant, EventInput("a", timestamp=T0, count=2), EventInput("a", timestamp=late))
    ingest(tenant, EventInput("a", timestamp=late + dt.timedelta(minutes=1), count=5))
    expected = {("a", T0.date()): 3, ("a", T0.date() + dt.timedelta(days=1)): 5}

    assert days(tenant) == expected  # before the fold: the increments, by UTC day
    fold_counters()
    assert days(tenant) == expected
    assert sorted(DailyCount.objects.values_list("day", "count")) == sorted(
        (day, n) for (_, day), n in expected.items()
    )

    deletion_create(
        tenant=tenant,
        logs=EventLog.objects.filter(tenant=tenant, timestamp__gte=late),
        reason="filter",
        filters={"start": late.isoformat()},
    )
    assert days(tenant) == {("a", T0.date()): 2}
    fold_counters()
    assert days(tenant) == {("a", T0.date()): 2}
    # A day whose logs are all gone has no row, like its hours.
    assert list(DailyCount.objects.values_list("day", "count")) == [(T0.date(), 2)]


def test_fold_reports_what_it_moved_and_respects_its_limit(tenant):
    for minute in range(5):
        ingest(tenant, EventInput("a", timestamp=T0 + dt.timedelta(minutes=minute)))
    pending = HourlyCountIncrement.objects.count() + IngestionCountIncrement.objects.count()

    assert fold_counters(limit=3) == 6  # 3 of each table's 5
    assert totals(tenant) == {("a", T0.replace(minute=0)): 5}  # half folded, still exact
    assert fold_counters() == pending - 6
    assert fold_counters() == 0
    assert HourlyCount.objects.get().count == 5


def test_ingestion_counts_are_folded_too(tenant):
    ingest(tenant, EventInput("a", timestamp=T0))
    ingest(tenant, EventInput("a", timestamp=T0))
    before = IngestionCountTotal.objects.aggregate(events=Sum("events"), requests=Sum("requests"))

    fold_counters()

    row = IngestionCount.objects.get()
    assert (row.outcome, row.events, row.requests) == ("accepted", 2, 2)
    assert before == {"events": 2, "requests": 2}


def test_a_bucket_emptied_by_a_deletion_reads_as_empty_and_its_row_goes(tenant):
    ingest(tenant, EventInput("a", timestamp=T0), EventInput("b", timestamp=T0))
    fold_counters()
    logs = EventLog.objects.filter(tenant=tenant, event__name="a")

    deletion_create(tenant=tenant, logs=logs, reason="filter", filters={"event_name": "a"})

    assert totals(tenant) == {("b", T0.replace(minute=0)): 1}
    fold_counters()
    assert list(HourlyCount.objects.values_list("event__name", "count")) == [("b", 1)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ingestion_does_not_wait_for_another_open_ingest_of_the_same_bucket(tenant):
    """The hot-row test: a request holds its transaction open after writing an event of
    the same tenant, event and hour; another request of that bucket commits meanwhile."""
    EventFactory(tenant=tenant, name="a")  # a first-ever name would wait on its creation
    written, release, errors = threading.Event(), threading.Event(), []

    def slow_request() -> None:
        try:
            with transaction.atomic():
                ingest(tenant, EventInput("a", timestamp=T0))
                written.set()
                release.wait(timeout=30)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    holder = threading.Thread(target=slow_request)
    holder.start()
    assert written.wait(timeout=30)
    with connections["default"].cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")  # waiting on a row lock would fail here
    try:
        ingest(tenant, EventInput("a", timestamp=T0))
    finally:
        release.set()
        holder.join(timeout=30)

    assert errors == []
    assert totals(tenant) == {("a", T0.replace(minute=0)): 2}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the fold's own transaction, as in the jobs
def test_the_fold_runs_without_jit_and_leaves_the_session_as_it_was(tenant):
    """A queue table's statistics lag its churn; JIT-compiling the fold for the large
    table the planner then expects cost most of its time (bench)."""
    from core.sql import fold

    def jit() -> str:
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW jit")
            return cursor.fetchone()[0]

    # An increment as an ingest appends it (ingesting may fold it at once: fold_soon).
    event = EventFactory(tenant=tenant, name="a")
    HourlyCountIncrement.objects.create(
        tenant=tenant, event=event, hour=T0.replace(minute=0), count=1
    )
    before, seen = jit(), []

    moved = fold(HourlyCountIncrement, HourlyCount, keys=HOURLY_KEYS, amounts=HOURLY_AMOUNTS,
                 limit=100, tenant_id=tenant.pk,  # one shard's rows on Citus
                 after=lambda totals: seen.append((jit(), len(totals))))  # fmt: skip

    assert (moved, seen) == (1, [("off", 1)])
    assert jit() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # VACUUM runs outside a transaction, as in the jobs
def test_the_fold_command_vacuums_the_increment_tables(tenant):
    """Every counter read sums the increment tables and visits their dead rows: the
    jobs' fold reclaims what it deleted (the emptied table shrinks to nothing), and the
    vacuum is skipped inside a transaction instead of failing it."""
    from io import StringIO

    from django.core.management import call_command

    from core.sharding import is_sharded
    from events.rollups import vacuum_increments

    table = HourlyCountIncrement._meta.db_table
    size_of = "citus_relation_size" if is_sharded() else "pg_relation_size"

    def size() -> int:
        with connections["default"].cursor() as cursor:
            cursor.execute(f"SELECT {size_of}(%s)", [table])
            return cursor.fetchone()[0]

    event = EventFactory(tenant=tenant, name="a")
    HourlyCountIncrement.objects.bulk_create(
        HourlyCountIncrement(tenant=tenant, event=event, hour=T0.replace(minute=0), count=1)
        for _ in range(2000)
    )
    with transaction.atomic():
        assert vacuum_increments() is False
    assert fold_counters() == 2000  # deleted, their space not reclaimed yet
    assert size() > 0
    out = StringIO()

    call_command("fold_counters", stdout=out)
    # A VACUUM keeps the dead rows a transaction elsewhere may still see (other tests of
    # the parallel run, on a shared Citus cluster); a later run of the command reclaims
    # them once that transaction is gone.
    for _ in range(20):
        if size() == 0:
            break
        time.sleep(0.5)
        call_command("fold_counters", stdout=out)

    assert size() == 0
    assert HourlyCount.objects.get(tenant=tenant, event=event).count == 2000
    assert out.getvalue() == ""  # nothing was left to fold
