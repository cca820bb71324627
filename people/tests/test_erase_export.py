"""Erasure (profile + events, rollup kept exact, receipt) and export (profile + events)."""

import datetime as dt
import json
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone

from events.models import DeletionReceipt, EventLog, UserNumber
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup
from people.models import Person
from people.selectors import EXPORT_CHUNK
from people.tests.factories import PersonFactory
from stats.models import UserActivityPeriod
from stats.services import user_activity_compute

pytestmark = pytest.mark.pii

T0 = dt.datetime(2024, 5, 6, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def shop(tenant, other_tenant):
    """Two people of `tenant` with events in shared hours, and a namesake elsewhere."""
    click, buy = EventFactory(tenant=tenant, name="click"), EventFactory(tenant=tenant, name="buy")
    for person in ("ada", "bob"):
        PersonFactory(tenant_id=tenant.pk, distinct_id=person)
        for hours, event, count in ((0, click, 2), (1, click, 1), (1, buy, 3), (30, buy, 1)):
            when = T0 + dt.timedelta(hours=hours)
            EventLogFactory(event=event, distinct_id=person, timestamp=when, count=count)
    EventLogFactory(event=click, distinct_id="", timestamp=T0)
    PersonFactory(tenant_id=other_tenant.pk, distinct_id="ada")
    EventLogFactory(event=EventFactory(tenant=other_tenant, name="click"), distinct_id="ada")
    return tenant


def test_erase_deletes_profile_and_events_and_keeps_rollup_exact(api_client, shop, other_tenant):
    before_other = rollup(other_tenant)

    response = api_client.delete("/api/people/ada?erase_events=true")

    body = response.json()
    assert response.status_code == 200
    assert body["person"] == "ada"
    assert body["events_deleted"] == 4
    assert dt.datetime.fromisoformat(body["at"]) <= timezone.now()
    assert not Person.objects.filter(tenant_id=shop.pk, distinct_id="ada").exists()
    assert not EventLog.objects.filter(tenant=shop, distinct_id="ada").exists()
    assert EventLog.objects.filter(tenant=shop, distinct_id="bob").count() == 4
    assert EventLog.objects.filter(tenant=shop, distinct_id="").count() == 1
    assert rollup(shop) == recount(shop)
    assert rollup(shop).total() == 2 + 1 + 3 + 1 + 1  # bob's 7 and the anonymous click
    # Other people and tenants are untouched.
    assert Person.objects.filter(tenant_id=shop.pk, distinct_id="bob").exists()
    assert Person.objects.filter(tenant_id=other_tenant.pk, distinct_id="ada").exists()
    assert EventLog.objects.filter(tenant=other_tenant, distinct_id="ada").count() == 1
    assert rollup(other_tenant) == before_other


def test_erase_leaves_a_receipt_without_personal_data(api_client, shop, user):
    PersonFactory(tenant_id=shop.pk, distinct_id="eve", email="eve@shop.example")

    erased = api_client.delete("/api/people/ada?erase_events=true").json()
    api_client.delete("/api/people/eve?erase_events=true")

    receipt = DeletionReceipt.objects.get(pk=erased["receipt"])
    assert receipt.reason == "erase"
    assert receipt.tenant == shop
    assert receipt.filter == {"distinct_id": "ada"}
    assert receipt.events_deleted == 4
    assert receipt.created_by == user
    assert receipt.actor == "user"
    assert "eve@shop.example" not in str(list(DeletionReceipt.objects.values()))
    listed = api_client.get("/api/deletions/", {"reason": "erase"}).json()
    assert [(row["filter"], row["events_deleted"]) for row in listed] == [
        ({"distinct_id": "ada"}, 4),
        ({"distinct_id": "eve"}, 0),
    ]


def test_an_erased_event_sent_again_with_its_uuid_is_new_data(api_client, shop):
    # README (Batches, Erasure): a uuid is remembered only by its log. No uuid of an erased
    # event is kept, so a client's retry after the erasure is stored and counted again.
    # This pins the documented behaviour; a change to it must change the README too.
    item = {"event_name": "click", "distinct_id": "ada", "timestamp": "2024-05-06T09:30:00Z"}
    first = api_client.post("/api/eventlogs/", item, format="json").json()

    api_client.delete("/api/people/ada?erase_events=true")
    again = api_client.post(
        "/api/eventlogs/batch/", {"events": [{**item, "uuid": first["uuid"]}]}, format="json"
    )

    assert again.json()["accepted"] == 1
    assert EventLog.objects.filter(tenant=shop, uuid=first["uuid"]).count() == 1
    assert rollup(shop) == recount(shop)


def test_erase_of_an_unknown_person_is_404(api_client, shop):
    response = api_client.delete("/api/people/nobody?erase_events=true")

    assert response.status_code == 404
    assert not DeletionReceipt.objects.exists()


def test_admin_key_may_erase_read_key_may_not(key_client, shop):
    denied = key_client("read").delete("/api/people/ada?erase_events=true")
    erased = key_client("admin").delete("/api/people/bob?erase_events=true")

    assert denied.status_code == 403
    assert erased.status_code == 200
    receipt = DeletionReceipt.objects.get()
    assert receipt.actor == "api_key"
    assert receipt.api_key.role == "admin"


def test_a_failed_profile_delete_is_finished_by_a_retry(api_client, shop):
    down = mock.patch.object(Person, "delete", side_effect=DatabaseError("pii is down"))
    with down, pytest.raises(DatabaseError):
        api_client.delete("/api/people/ada?erase_events=true")

    # The events went first (with their receipt); the profile is still there to retry on.
    assert not EventLog.objects.filter(tenant=shop, distinct_id="ada").exists()
    assert Person.objects.filter(tenant_id=shop.pk, distinct_id="ada").exists()
    retry = api_client.delete("/api/people/ada?erase_events=true")
    assert retry.status_code == 200
    assert retry.json()["events_deleted"] == 0
    assert not Person.objects.filter(tenant_id=shop.pk, distinct_id="ada").exists()
    assert rollup(shop) == recount(shop)


def _export(client, distinct_id: str):
    response = client.get(f"/api/people/{distinct_id}/export")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    return json.loads(b"".join(response.streaming_content))


def test_export_holds_the_profile_and_every_event_oldest_first(api_client, shop):
    PersonFactory(tenant_id=shop.pk, distinct_id="cy", email="cy@shop.example", phone="+4412345")
    click = EventFactory(tenant=shop, name="visit")
    later = EventLogFactory(event=click, distinct_id="cy", timestamp=T0, data={"page": "/"})
    EventLogFactory(event=click, distinct_id="cy", timestamp=T0 - dt.timedelta(days=1), count=2)

    body = _export(api_client, "cy")

    assert body["person"]["email"] == "cy@shop.example"
    assert body["person"]["phone"] == "+4412345"
    assert dt.datetime.fromisoformat(body["exported_at"]) <= timezone.now()
    assert [(row["event_name"], row["count"]) for row in body["events"]] == [
        ("visit", 2),
        ("visit", 1),
    ]
    assert body["events"][1] == {
        "uuid": str(later.uuid),
        "event_name": "visit",
        "timestamp": "2024-05-06T09:30:00Z",
        "received_at": later.received_at.isoformat().replace("+00:00", "Z"),
        "count": 1,
        "data": {"page": "/"},
    }


def test_export_streams_long_histories_in_pieces(api_client, shop):
    event = EventFactory(tenant=shop, name="tick")
    EventLog.objects.bulk_create(
        EventLog(
            tenant=shop,
            event=event,
            distinct_id="bob",
            timestamp=T0 + dt.timedelta(seconds=i),
            received_at=T0,
        )
        for i in range(EXPORT_CHUNK + 5)
    )

    response = api_client.get("/api/people/bob/export")
    pieces = list(response.streaming_content)

    assert len(pieces) >= 3  # the head, at least one full chunk, the rest
    assert len(json.loads(b"".join(pieces))["events"]) == EXPORT_CHUNK + 5 + 4


def test_export_of_a_person_without_events_is_an_empty_list(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="quiet")

    assert _export(api_client, "quiet")["events"] == []


# --- distinct_ids without a profile ------------------------------------------------------


@pytest.fixture
def jane(tenant, other_tenant):
    """Events of a distinct_id with no profile, a user number for it, and a namesake's
    number in another tenant."""
    event = EventFactory(tenant=tenant, name="visit")
    EventLogFactory(event=event, distinct_id="jane.doe@mail.example", timestamp=T0)
    UserNumber.objects.create(tenant=tenant, distinct_id="jane.doe@mail.example")
    UserNumber.objects.create(tenant=other_tenant, distinct_id="jane.doe@mail.example")
    return "jane.doe@mail.example"


def test_erase_and_export_need_no_profile(api_client, tenant, other_tenant, jane):
    exported = _export(api_client, jane)
    erased = api_client.delete(f"/api/people/{jane}?erase_events=true")

    assert exported["person"] is None
    assert [row["event_name"] for row in exported["events"]] == ["visit"]
    assert erased.status_code == 200, erased.content
    assert erased.json()["person"] == jane
    assert erased.json()["events_deleted"] == 1
    assert not EventLog.objects.filter(tenant=tenant, distinct_id=jane).exists()
    assert not UserNumber.objects.filter(tenant=tenant, distinct_id=jane).exists()
    assert UserNumber.objects.filter(tenant=other_tenant, distinct_id=jane).exists()


def test_deleting_a_users_events_drops_their_user_number(api_client, tenant, other_tenant, jane):
    response = api_client.delete(f"/api/people/{jane}/events")

    assert response.status_code == 200
    assert response.json()["events_deleted"] == 1
    assert not UserNumber.objects.filter(tenant=tenant, distinct_id=jane).exists()
    assert UserNumber.objects.filter(tenant=other_tenant, distinct_id=jane).exists()


def test_a_user_number_left_alone_is_still_erased(api_client, tenant, jane):
    """A first erasure that stopped after the events (the number still there) is finished
    by a second one; after that, the distinct_id has nothing left: 404."""
    EventLog.objects.filter(tenant=tenant).delete()

    finished = api_client.delete(f"/api/people/{jane}?erase_events=true")

    assert finished.status_code == 200
    assert not UserNumber.objects.filter(tenant=tenant, distinct_id=jane).exists()
    assert api_client.delete(f"/api/people/{jane}?erase_events=true").status_code == 404
    assert api_client.get(f"/api/people/{jane}/export").status_code == 404


def test_another_tenants_distinct_id_is_404(other_tenant, other_client, jane):
    UserNumber.objects.filter(tenant=other_tenant).delete()  # theirs: nothing of jane left

    assert other_client.delete(f"/api/people/{jane}?erase_events=true").status_code == 404
    assert other_client.get(f"/api/people/{jane}/export").status_code == 404
    assert other_client.delete(f"/api/people/{jane}/events").status_code == 404
    assert EventLog.objects.filter(distinct_id=jane).count() == 1


def test_export_holds_the_activity_periods_and_the_receipts_that_name_the_person(
    api_client, other_client, tenant, other_tenant
):
    PersonFactory(tenant_id=tenant.pk, distinct_id="cy")
    visit = EventFactory(tenant=tenant, name="visit")
    EventLogFactory(event=visit, distinct_id="cy", timestamp=T0, count=3)
    EventLogFactory(event=visit, distinct_id="cyd", timestamp=T0)
    EventLogFactory(event=EventFactory(tenant=other_tenant, name="visit"), distinct_id="cy")
    number = UserNumber.objects.create(tenant=tenant, distinct_id="cy")
    user_activity_compute(now=T0 + dt.timedelta(days=1))
    named = api_client.post("/api/deletions/", {"distinct_id": "cy", "event_name": "gone"})
    api_client.post("/api/deletions/", {"distinct_id": "cyd", "event_name": "gone"})
    api_client.post("/api/deletions/", {"event_name": "gone"})
    other_client.post("/api/deletions/", {"distinct_id": "cy"})

    body = _export(api_client, "cy")

    assert list(body) == [
        "exported_at",
        "person",
        "user_number",
        "events",
        "activity_periods",
        "deletions",
    ]
    assert body["user_number"] == number.pk
    assert body["activity_periods"] == [
        {"period_start": "2024-05-06T08:00:00Z", "period_end": "2024-05-06T12:00:00Z", "events": 3}
    ]
    assert [row["id"] for row in body["deletions"]] == [named.json()["id"]]
    assert body["deletions"][0]["filter"] == {"distinct_id": "cy", "event_name": "gone"}
    assert set(body["deletions"][0]) == {"id", "reason", "filter", "events_deleted", "created_at"}


@pytest.mark.parametrize("route", ["/api/people/ada?erase_events=true", "/api/people/ada/events"])
def test_erasing_or_deleting_a_users_events_drops_their_activity_periods_at_once(
    api_client, shop, other_tenant, route
):
    UserActivityPeriod.objects.create(
        tenant=other_tenant,
        distinct_id="ada",
        period_start=T0,
        period_end=T0,
        events=1,
        computed_at=T0,
    )
    user_activity_compute(now=T0 + dt.timedelta(days=3))
    assert set(
        UserActivityPeriod.objects.filter(tenant=shop).values_list("distinct_id", flat=True)
    ) == {"ada", "bob"}

    assert api_client.delete(route).status_code == 200

    # Not left until the activity job's next run; bob's and the other tenant's stay.
    left = UserActivityPeriod.objects.values_list("tenant_id", "distinct_id").distinct()
    assert set(left) == {(shop.pk, "bob"), (other_tenant.pk, "ada")}
