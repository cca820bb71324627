"""The hourly rollup (HourlyCount plus its unfolded increments) stays equal to a recount
of raw rows through inserts, deletes and folds, down to its quarter-hour columns."""

import datetime as dt
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from events.models import Event, EventLog, HourlyCount, HourlyCountTotal
from events.rollups import Deltas, deltas_of_queryset, fold_counters, quarter_deltas
from events.services import event_logs_delete, event_logs_ingest
from events.tests.factories import EventFactory, EventLogFactory
from events.validation import EventInput

T0 = dt.datetime(2024, 3, 10, 6, 15, tzinfo=dt.UTC)


def rollup(tenant) -> Counter:
    """The rollup as readers see it, counters plus increments, per (event name, start of
    the quarter hour): its first_15/30/45 columns are checked along with the count."""
    rows = (
        HourlyCountTotal.objects.filter(tenant=tenant)
        .values_list("tenant_id", "event_id", "hour")
        .annotate(Sum("count"), Sum("first_15"), Sum("first_30"), Sum("first_45"))
    )
    return _named(tenant, quarter_deltas(rows))


def recount(tenant) -> Counter:
    return _named(tenant, deltas_of_queryset(EventLog.objects.filter(tenant=tenant)))


def _named(tenant, deltas: Deltas) -> Counter:
    names = dict(Event.objects.filter(tenant=tenant).values_list("id", "name"))
    return +Counter({(names[event], quarter): n for (_, event, quarter), n in deltas.items()})


def test_ingest_adds_counts_to_the_utc_hour_and_its_quarter(tenant):
    items = [
        EventInput("a", timestamp=T0, count=2),
        EventInput("a", timestamp=T0 + dt.timedelta(minutes=40), count=3),
        EventInput("a", timestamp=T0 + dt.timedelta(hours=1)),
        EventInput("b", timestamp=T0),
    ]

    event_logs_ingest(tenant=tenant, items=items, created_by=None, now=T0)

    assert rollup(tenant) == Counter(
        {
            ("a", T0): 2,
            ("a", T0 + dt.timedelta(minutes=30)): 3,  # 06:55 is in the quarter from 06:45
            ("a", T0 + dt.timedelta(hours=1)): 1,
            ("b", T0): 1,
        }
    )
    fold_counters()  # the folded hour row holds its quarters in cumulative columns
    hour = HourlyCount.objects.get(tenant=tenant, event__name="a", hour=T0.replace(minute=0))
    assert (hour.count, hour.first_15, hour.first_30, hour.first_45) == (5, 0, 2, 2)


def test_duplicates_do_not_count_twice(tenant):
    item = EventInput("a", timestamp=T0, count=4, uuid=EventLogFactory.build().uuid)

    for _ in range(3):
        event_logs_ingest(tenant=tenant, items=[item, item], created_by=None, now=T0)

    assert rollup(tenant) == Counter({("a", T0): 4})


def test_delete_subtracts_and_drops_empty_buckets(tenant, other_tenant):
    click = EventFactory(tenant=tenant, name="click")
    keep = EventLogFactory(event=click, timestamp=T0, count=2)
    EventLogFactory(event=click, timestamp=T0, count=5, distinct_id="gone")
    EventLogFactory(event=click, timestamp=T0 + dt.timedelta(hours=3), distinct_id="gone")
    foreign = EventLogFactory(event=EventFactory(tenant=other_tenant, name="click"), timestamp=T0)

    deleted = event_logs_delete(logs=EventLog.objects.filter(tenant=tenant, distinct_id="gone"))

    assert deleted == 2
    assert rollup(tenant) == Counter({("click", T0): keep.count})
    assert rollup(tenant) == recount(tenant)
    assert rollup(other_tenant) == Counter({("click", T0): foreign.count})


def test_delete_in_small_chunks_matches_one_big_delete(tenant):
    click = EventFactory(tenant=tenant, name="click")
    for minute in range(0, 300, 7):
        EventLogFactory(event=click, timestamp=T0 + dt.timedelta(minutes=minute), count=2)

    deleted = event_logs_delete(
        logs=EventLog.objects.filter(tenant=tenant, timestamp__lt=T0 + dt.timedelta(hours=2)),
        chunk=3,
    )

    assert deleted == len(range(0, 120, 7))
    assert rollup(tenant) == recount(tenant)


def test_deleting_an_event_removes_its_logs_and_rollup(api_client, tenant):
    click = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=click, timestamp=T0, count=3)
    other = EventLogFactory(event=EventFactory(tenant=tenant, name="view"), timestamp=T0)

    response = api_client.delete(f"/api/events/{click.pk}")

    assert response.status_code == 204
    assert rollup(tenant) == Counter({("view", T0): other.count})
    assert rollup(tenant) == recount(tenant)


def test_rebuild_reports_and_fixes_drift(tenant):
    click = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=click, timestamp=T0, count=3)
    fold_counters()
    HourlyCount.objects.filter(tenant=tenant).update(count=99)
    out = StringIO()

    with pytest.raises(CommandError, match="differs"):
        call_command("rebuild_hourly_counts", "--check", stdout=out)
    assert "1 bucket(s) drifted (rollup total 99, raw total 3)" in out.getvalue()
    assert HourlyCount.objects.get(tenant=tenant).count == 99

    call_command("rebuild_hourly_counts", stdout=out)
    assert HourlyCount.objects.get(tenant=tenant).count == 3

    clean = StringIO()
    call_command("rebuild_hourly_counts", "--check", stdout=clean)
    assert "0 drifted bucket(s) found." in clean.getvalue()


def test_rebuild_restores_missing_and_removes_stray_buckets(tenant):
    click = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=click, timestamp=T0)
    fold_counters()
    HourlyCount.objects.all().delete()
    HourlyCount.objects.create(
        tenant=tenant, event=click, hour=T0.replace(hour=1, minute=0), count=7
    )

    call_command("rebuild_hourly_counts", "--tenant", tenant.slug, stdout=StringIO())

    assert rollup(tenant) == recount(tenant) == Counter({("click", T0): 1})


@pytest.mark.django_db
def test_rebuild_of_unknown_tenant_is_an_error():
    with pytest.raises(CommandError, match="No tenant"):
        call_command("rebuild_hourly_counts", "--tenant", "nope", stdout=StringIO())


def test_rollup_total_equals_raw_total_after_api_ingest(api_client, tenant):
    for count in (1, 2, 3):
        api_client.post("/api/eventlogs/", {"event_name": "a", "count": count}, format="json")

    raw = EventLog.objects.filter(tenant=tenant).aggregate(n=Sum("count"))["n"]
    assert raw == 6
    assert rollup(tenant).total() == raw
