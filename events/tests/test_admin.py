"""The Django admin keeps the counters exact: logs, rollups and receipts are shown, never
added, edited or deleted by hand; an event is deleted through the deletion service."""

import datetime as dt

import pytest
from django.contrib.admin import ModelAdmin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.admin_mixins import CappedCountPaginator
from events.models import DeletionReceipt, Event, EventLog
from events.rollups import fold_counters
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup

# admin_client (pytest-django): logged in as a superuser, of a tenant of their own.
pytestmark = pytest.mark.django_db
LOGS = "/admin/events/eventlog/"


def test_event_logs_are_shown_but_never_added_edited_or_deleted(admin_client, tenant):
    log = EventLogFactory(event__tenant=tenant, count=2)
    form = {"event": log.event_id, "tenant": tenant.pk, "count": 5, "timestamp_0": "2024-01-15"}

    add = admin_client.post(f"{LOGS}add/", form)
    change = admin_client.post(f"{LOGS}{log.pk}/change/", form)
    delete = admin_client.post(f"{LOGS}{log.pk}/delete/", {"post": "yes"})
    bulk = admin_client.post(LOGS, {"action": "delete_selected", "_selected_action": [log.pk]})

    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)  # no such action: the list again
    log.refresh_from_db()
    assert log.count == 2
    assert rollup(tenant) == recount(tenant)
    assert admin_client.get(f"{LOGS}{log.pk}/change/").status_code == 200  # a read-only view


@pytest.mark.parametrize("model", ["eventlog", "hourlycount", "ingestioncount", "deletionreceipt"])
def test_counted_rows_offer_no_add_and_no_delete(admin_client, model):
    page = admin_client.get(f"/admin/events/{model}/")

    assert page.status_code == 200
    assert f"/admin/events/{model}/add/" not in page.content.decode()
    assert "delete_selected" not in page.content.decode()


def test_deleting_an_event_in_the_admin_goes_through_the_deletion_service(
    admin_client, admin_user, tenant, other_tenant
):
    click = EventFactory(tenant=tenant, name="click")
    for hour in (1, 5):
        EventLogFactory(event=click, timestamp=dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC))
    kept = EventLogFactory(event__tenant=tenant, event__name="view")
    theirs = EventLogFactory(event__tenant=other_tenant, event__name="click")

    confirm = admin_client.get(f"/admin/events/event/{click.pk}/delete/")
    response = admin_client.post(f"/admin/events/event/{click.pk}/delete/", {"post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert not Event.objects.filter(pk=click.pk).exists()
    assert list(EventLog.objects.filter(tenant=tenant)) == [kept]
    assert EventLog.objects.filter(pk=theirs.pk).exists()
    assert rollup(tenant) == recount(tenant)
    receipt = DeletionReceipt.objects.get()
    assert (receipt.tenant, receipt.reason, receipt.events_deleted) == (tenant, "event", 2)
    assert (receipt.filter, receipt.created_by) == ({"event_name": "click"}, admin_user)


def test_deleting_selected_events_leaves_a_receipt_each(admin_client, tenant, other_tenant):
    mine = EventLogFactory(event__tenant=tenant).event
    theirs = EventLogFactory(event__tenant=other_tenant).event
    selected = {"action": "delete_selected", "_selected_action": [mine.pk, theirs.pk]}

    response = admin_client.post("/admin/events/event/", {**selected, "post": "yes"})

    assert response.status_code == 302
    assert not Event.objects.filter(pk__in=[mine.pk, theirs.pk]).exists()
    receipts = DeletionReceipt.objects.order_by("tenant_id")
    assert [(r.tenant, r.events_deleted) for r in receipts] == [(tenant, 1), (other_tenant, 1)]


def test_an_event_stays_in_its_tenant_and_its_name_unique_there(admin_client, tenant, other_tenant):
    event = EventFactory(tenant=tenant, name="click")
    EventFactory(tenant=tenant, name="view")
    url = f"/admin/events/event/{event.pk}/change/"

    moved = admin_client.post(
        url, {"name": "clicked", "description": "", "tenant": other_tenant.pk}
    )
    taken = admin_client.post(url, {"name": "view", "description": ""})

    assert moved.status_code == 302
    event.refresh_from_db()
    assert (event.tenant, event.name) == (tenant, "clicked")
    assert taken.status_code == 200
    assert taken.context["adminform"].form.errors["name"]


@pytest.mark.django_db(transaction=True)
def test_an_event_is_changed_and_deleted_in_transactions_of_their_own(admin_client, tenant):
    """Each admin page in a transaction of its own, as in production (a test's one
    transaction hid it): on Citus, the page's read of the event by id in every shard
    made Citus refuse the tenant's version bump that follows, a 500."""
    event = EventFactory(tenant=tenant, name="signup")
    EventLogFactory.create_batch(3, event=event)
    form = {"name": "signup", "description": "A new account"}

    changed = admin_client.post(f"/admin/events/event/{event.pk}/change/", form)
    deleted = admin_client.post(f"/admin/events/event/{event.pk}/delete/", {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (302, 302)
    assert not Event.objects.filter(pk=event.pk).exists()
    receipt = DeletionReceipt.objects.get(tenant=tenant)
    assert receipt.events_deleted == 3
    assert rollup(tenant) == recount(tenant)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bulk", [False, True])
def test_a_block_rule_is_deleted_in_a_transaction_of_its_own(admin_client, api_client, bulk):
    rule = api_client.post("/api/blocklist/", {"kind": "ip", "value": "127.0.0.1"}).json()
    assert api_client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 403

    if bulk:
        form = {"action": "delete_selected", "_selected_action": [rule["id"]], "post": "yes"}
        response = admin_client.post("/admin/events/blockrule/", form)
    else:
        response = admin_client.post(
            f"/admin/events/blockrule/{rule['id']}/delete/", {"post": "yes"}
        )

    assert response.status_code == 302
    assert api_client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 201


@pytest.mark.parametrize(
    "page",
    [
        LOGS,
        f"{LOGS}?q=u-1",
        f"{LOGS}?timestamp__gte=2024-01-01+00:00:00%2B00:00",
        "/admin/events/hourlycount/",
        "/admin/stats/useractivityperiod/",
        f"{LOGS}?_facets=True",  # "Show counts": a count per filter choice, every row
    ],
)
def test_lists_of_growing_tables_never_read_every_row(admin_client, tenant, monkeypatch, page):
    """The count stops at the cap, no date hierarchy reads every row's year and month, and
    rows come in the primary key's order, (tenant_id, id): no index has id first."""
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    monkeypatch.setattr(ModelAdmin, "list_per_page", 2)
    for hour in range(5):
        EventLogFactory(
            event__tenant=tenant,
            distinct_id="u-1",
            timestamp=dt.datetime(2024, 1, 1, hour, tzinfo=dt.UTC),
        )
    fold_counters()

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(page)

    assert response.status_code == 200
    table = response.context["cl"].model._meta.db_table
    reads = [q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"]]
    assert reads
    for sql in reads:
        assert "DISTINCT" not in sql, sql
        assert "MIN(" not in sql, sql
        if "COUNT(" in sql:
            assert "LIMIT 4" in sql, sql  # at most CAP + 1 rows counted
        else:
            assert f'ORDER BY "{table}"."tenant_id" DESC, "{table}"."id" DESC' in sql, sql
    if response.context["cl"].paginator.capped:
        assert "more than 3" in response.content.decode()
