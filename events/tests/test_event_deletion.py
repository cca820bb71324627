"""`DELETE /api/events/{id}`: the event type goes with its logs through the deletion
service — a receipt counts them, the rollup follows, activity periods are recomputed."""

import datetime as dt
import uuid

import pytest
from django.db.models import Sum

from accounts.models import Tenant
from events.models import DeletionReceipt, Event, EventLog, IngestionCountTotal
from events.services import event_delete, event_logs_ingest
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup
from events.validation import EventInput
from stats.models import UserActivityPeriod
from stats.services import user_activity_compute


def at(hour: int) -> dt.datetime:
    """An instant of 2024-05-01, UTC."""
    return dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)


def activity(tenant) -> dict[tuple[str, dt.datetime], int]:
    rows = UserActivityPeriod.objects.filter(tenant=tenant)
    return {(row.distinct_id, row.period_start): row.events for row in rows}


def clicks_and_views(tenant) -> Event:
    """alice clicks at 01:00 and 05:00 and views at 05:00; returns the click event."""
    click = EventFactory(tenant=tenant, name="click")
    view = EventFactory(tenant=tenant, name="view")
    for event, hour, count in ((click, 1, 2), (click, 5, 1), (view, 5, 1)):
        EventLogFactory(event=event, distinct_id="alice", timestamp=at(hour), count=count)
    return click


def test_deleting_an_event_leaves_a_receipt_and_recomputes_activity(
    api_client, tenant, other_tenant, user
):
    click = clicks_and_views(tenant)
    theirs = clicks_and_views(other_tenant)
    user_activity_compute(now=at(23))
    assert activity(tenant) == {("alice", at(0)): 2, ("alice", at(4)): 2}

    response = api_client.delete(f"/api/events/{click.pk}")
    user_activity_compute(now=at(23) + dt.timedelta(minutes=5))

    assert response.status_code == 204
    assert response.content == b""
    assert activity(tenant) == {("alice", at(4)): 1}
    assert activity(other_tenant) == {("alice", at(0)): 2, ("alice", at(4)): 2}
    assert not Event.objects.filter(pk=click.pk).exists()
    assert Event.objects.filter(pk=theirs.pk).exists()
    assert rollup(tenant) == recount(tenant)
    assert EventLog.objects.filter(tenant=tenant).count() == 1
    (receipt,) = api_client.get("/api/deletions/", {"reason": "event"}).json()
    assert receipt["filter"] == {"event_name": "click"}
    assert (receipt["reason"], receipt["events_deleted"]) == ("event", 2)
    assert (receipt["actor"], receipt["created_by"]) == ("user", user.pk)


def test_an_event_without_logs_still_leaves_a_receipt(api_client, tenant):
    event = EventFactory(tenant=tenant, name="unused")

    response = api_client.delete(f"/api/events/{event.pk}/")

    assert response.status_code == 204
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert (receipt.reason, receipt.events_deleted) == ("event", 0)


def test_another_tenants_event_is_404_and_leaves_no_receipt(api_client, other_tenant):
    theirs = clicks_and_views(other_tenant)

    response = api_client.delete(f"/api/events/{theirs.pk}")

    assert response.status_code == 404
    assert EventLog.objects.filter(event=theirs).count() == 2
    assert not DeletionReceipt.objects.exists()


def ingest(tenant, name: str) -> tuple[str, uuid.UUID]:
    """Store one log of `name` (resolving its id as a request does); (status, uuid)."""
    item = EventInput(event_name=name, uuid=uuid.uuid4(), timestamp=at(12))
    (receipt,) = event_logs_ingest(tenant=tenant, items=[item], created_by=None, now=at(13))
    return receipt.status, item.uuid


@pytest.mark.django_db(transaction=True)  # the write's foreign keys are checked as it commits
@pytest.mark.parametrize("creates", [True, False], ids=["auto-create", "strict"])
def test_a_request_resolving_a_deleted_event_is_handled_as_after_the_deletion(creates):
    """A request that resolved its event's id before the event's deletion committed (here
    from the per-process cache, with the tenant as read before) is handled as if it came
    after it: its log is stored under the event created anew, once — or, for a tenant
    that does not create events, refused as unknown_event (events.bulk.EventGone)."""
    tenant = Tenant.objects.create(name="t", slug="t", auto_create_events=creates)
    EventFactory(tenant=tenant, name="temp")
    assert ingest(tenant, "temp")[0] == "accepted"  # its id is cached now
    old = Event.objects.get(tenant=tenant, name="temp")
    read_before = Tenant.objects.get(pk=tenant.pk)
    event_delete(tenant=tenant, event=old, logs=EventLog.objects.filter(tenant=tenant))

    status, sent = ingest(read_before, "temp")

    totals = IngestionCountTotal.objects.filter(tenant=tenant).values("outcome", "reason")
    counted = {
        (row["outcome"], row["reason"]): row["n"] for row in totals.annotate(n=Sum("events"))
    }
    logs = list(EventLog.objects.filter(tenant=tenant).values_list("event__name", "uuid"))
    if creates:
        assert status == "accepted"
        assert Event.objects.get(tenant=tenant, name="temp").pk != old.pk
        assert logs == [("temp", sent)]
        assert counted == {("accepted", ""): 2}
    else:
        assert status == "rejected"
        assert not Event.objects.filter(tenant=tenant).exists()
        assert logs == []
        assert counted == {("accepted", ""): 1, ("rejected", "unknown_event"): 1}
    assert DeletionReceipt.objects.get(tenant=tenant).events_deleted == 1
