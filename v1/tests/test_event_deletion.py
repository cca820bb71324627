"""`DELETE /admin/v1/events/{name}`: seed 000's answer, with the deletion made through
the deletion service — a receipt, and activity periods recomputed."""

import datetime as dt

from accounts.services import api_key_create
from events.models import DeletionReceipt, Event
from stats.models import UserActivityPeriod
from stats.services import user_activity_compute
from v1.tests.test_seed000 import ADMIN, V1, client_with


def at(hour: int) -> dt.datetime:
    """An instant of 2024-05-01, UTC."""
    return dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC)


def test_deleting_an_event_answers_seed_000_and_leaves_a_receipt(api_client, tenant):
    _, secret = api_key_create(tenant=tenant, name="admin", role="admin")
    admin = client_with(secret)
    for name, hour in (("login", 1), ("login", 5), ("logout", 5)):
        date = f"2024-05-01 {hour:02}:00:00"
        admin.post(f"{V1}/events/{name}", {"count": 2, "date": date}, format="json")
    # Seed 000 posts carry no distinct_id: give the logs a user so periods exist.
    Event.objects.get(tenant=tenant, name="login").logs.update(distinct_id="alice")
    Event.objects.get(tenant=tenant, name="logout").logs.update(distinct_id="alice")
    user_activity_compute(now=at(23))
    assert _activity(tenant) == {at(0): 2, at(4): 4}

    response = admin.delete(f"{ADMIN}/events/login")
    user_activity_compute(now=at(23) + dt.timedelta(minutes=5))

    assert response.status_code == 200
    # Two logs of count 2: 4 occurrences, as event_history counted them; the receipt
    # counts the logs.
    assert response.json() == {"message": "Deleted 4 occurrence(s) of event 'login'.", "deleted": 4}
    assert _activity(tenant) == {at(4): 2}
    assert not Event.objects.filter(tenant=tenant, name="login").exists()
    (receipt,) = api_client.get("/api/deletions/").json()
    assert (receipt["reason"], receipt["filter"]) == ("event", {"event_name": "login"})
    assert (receipt["events_deleted"], receipt["actor"]) == (2, "api_key")


def test_another_tenants_event_is_404_and_leaves_no_receipt(tenant, other_tenant):
    _, secret = api_key_create(tenant=tenant, name="admin", role="admin")
    Event.objects.create(tenant=other_tenant, name="theirs")

    response = client_with(secret).delete(f"{ADMIN}/events/theirs")

    assert response.status_code == 404
    assert Event.objects.filter(tenant=other_tenant, name="theirs").exists()
    assert not DeletionReceipt.objects.exists()


def _activity(tenant) -> dict[dt.datetime, int]:
    rows = UserActivityPeriod.objects.filter(tenant=tenant, distinct_id="alice")
    return {row.period_start: row.events for row in rows}
