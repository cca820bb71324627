"""Deletions by filter with receipts (/api/deletions/) and seed 002's delete-a-user's-events."""

import datetime as dt

import pytest

from events.models import DeletionReceipt, EventLog
from events.tests.factories import EventFactory, EventLogFactory
from events.tests.test_rollups import recount, rollup
from people.models import Person
from people.tests.factories import PersonFactory

DELETIONS = "/api/deletions/"
T0 = dt.datetime(2024, 2, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def logs(tenant, other_tenant):
    """Three days of clicks and views by u1/u2 in `tenant`; the same in `other_tenant`."""
    for owner in (tenant, other_tenant):
        click = EventFactory(tenant=owner, name="click")
        view = EventFactory(tenant=owner, name="view")
        for day in range(3):
            when = T0 + dt.timedelta(days=day)
            EventLogFactory(event=click, distinct_id="u1", timestamp=when, count=2)
            EventLogFactory(event=click, distinct_id="u2", timestamp=when)
            EventLogFactory(event=view, distinct_id="u1", timestamp=when + dt.timedelta(hours=1))
    return tenant


def _remaining(tenant) -> list[tuple[str, str, dt.datetime]]:
    rows = EventLog.objects.filter(tenant=tenant).order_by(
        "timestamp", "event__name", "distinct_id"
    )
    return list(rows.values_list("event__name", "distinct_id", "timestamp"))


@pytest.mark.parametrize(
    ("body", "deleted"),
    [
        ({"event_name": "click"}, 6),
        ({"distinct_id": "u1"}, 6),
        ({"event_name": "click", "distinct_id": "u1"}, 3),
        ({"start": "2024-02-02T00:00:00Z"}, 6),
        ({"end": "2024-02-02T00:00:00"}, 3),  # naive = UTC
        ({"start": "2024-02-02T10:00:00Z", "end": "2024-02-02T11:00:00Z"}, 2),  # [start, end)
        ({"start": "2024-02-02T12:00:00+01:00", "end": "2024-02-03", "event_name": "view"}, 1),
        ({"event_name": "nothing-like-this"}, 0),
    ],
)
def test_delete_by_filter_answers_a_receipt_and_keeps_the_rollup_exact(
    api_client, logs, other_tenant, user, body, deleted
):
    before = len(_remaining(logs))
    theirs = rollup(other_tenant)

    response = api_client.post(DELETIONS, body, format="json")

    receipt = response.json()
    assert response.status_code == 201
    assert receipt["events_deleted"] == deleted
    assert receipt["reason"] == "filter"
    assert receipt["actor"] == "user"
    assert receipt["created_by"] == user.pk
    assert set(receipt["filter"]) == set(body)
    assert len(_remaining(logs)) == before - deleted
    assert rollup(logs) == recount(logs)
    assert rollup(other_tenant) == theirs == recount(other_tenant)
    assert DeletionReceipt.objects.get(pk=receipt["id"]).events_deleted == deleted


def test_the_receipt_records_the_filter_in_utc(api_client, logs):
    body = {"event_name": "view", "start": "2024-02-02T12:00:00+01:00"}

    receipt = api_client.post(DELETIONS, body, format="json").json()

    assert receipt["filter"] == {"event_name": "view", "start": "2024-02-02T11:00:00Z"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"event_name": ""}, "event_name"),
        ({"distinct_id": ""}, "distinct_id"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2024-02-02", "end": "2024-02-02"}, "end"),
        ({"start": "2024-02-03", "end": "2024-02-02"}, "end"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "start"),
        ({"tenant": 1, "event_name": "click"}, "tenant"),
        ({"event_name": ["click"]}, "event_name"),
    ],
)
def test_bad_deletion_requests_are_400_and_delete_nothing(api_client, logs, body, field):
    before = _remaining(logs)

    response = api_client.post(DELETIONS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert _remaining(logs) == before
    assert not DeletionReceipt.objects.exists()


def test_a_body_that_is_not_an_object_is_400(api_client, logs):
    assert api_client.post(DELETIONS, [1], format="json").status_code == 400


def test_receipts_are_listed_per_tenant_with_a_pinned_query_count(
    api_client, other_client, logs, django_assert_max_num_queries
):
    api_client.post(DELETIONS, {"event_name": "click"}, format="json")
    api_client.post(DELETIONS, {"distinct_id": "u1"}, format="json")
    theirs = other_client.post(DELETIONS, {"event_name": "view"}, format="json").json()

    with django_assert_max_num_queries(4):
        listed = api_client.get(DELETIONS)

    assert [row["events_deleted"] for row in listed.json()] == [6, 3]
    assert listed["X-Total-Count"] == "2"
    assert api_client.get(f"{DELETIONS}{theirs['id']}").status_code == 404
    assert other_client.get(f"{DELETIONS}{theirs['id']}").status_code == 200


def test_another_tenants_filter_never_reaches_our_logs(api_client, other_client, logs):
    before = _remaining(logs)

    response = other_client.post(DELETIONS, {"distinct_id": "u1"}, format="json")

    assert response.json()["events_deleted"] == 6
    assert _remaining(logs) == before


def test_admin_keys_delete_read_keys_list_ingest_keys_nothing(key_client, logs):
    admin, read, ingest = key_client("admin"), key_client("read"), key_client("ingest")

    created = admin.post(DELETIONS, {"event_name": "view"}, format="json")

    assert created.status_code == 201
    assert created.json()["actor"] == "api_key"
    assert read.post(DELETIONS, {"event_name": "click"}, format="json").status_code == 403
    assert read.get(DELETIONS).status_code == 200
    assert ingest.get(DELETIONS).status_code == 403
    assert ingest.post(DELETIONS, {"event_name": "click"}, format="json").status_code == 403
    assert EventLog.objects.filter(tenant=logs, event__name="click").count() == 6


def test_anonymous_is_401(anon_client):
    assert anon_client.post(DELETIONS, {"event_name": "x"}, format="json").status_code == 401
    assert anon_client.get(DELETIONS).status_code == 401


# --- seed 002: DELETE /api/event/<user_id> → DELETE /api/people/<distinct_id>/events ---


@pytest.mark.pii
def test_deleting_a_users_events_answers_seed_002s_message(api_client, logs):
    PersonFactory(tenant_id=logs.pk, distinct_id="u1")

    response = api_client.delete("/api/people/u1/events")

    body = response.json()
    assert response.status_code == 200
    assert body["message"] == "6 events were deleted"
    assert body["events_deleted"] == 6
    assert body["reason"] == "user_events"
    assert body["filter"] == {"distinct_id": "u1"}
    assert not EventLog.objects.filter(tenant=logs, distinct_id="u1").exists()
    assert Person.objects.filter(distinct_id="u1").exists()  # the profile stays
    assert rollup(logs) == recount(logs)


@pytest.mark.pii
def test_a_users_events_go_even_without_a_profile_and_unknown_ids_are_404(api_client, logs):
    assert api_client.delete("/api/people/u2/events").json()["events_deleted"] == 3
    assert api_client.delete("/api/people/u2/events").status_code == 404
    assert api_client.delete("/api/people/nobody/events").status_code == 404
    PersonFactory(tenant_id=logs.pk, distinct_id="quiet")
    assert api_client.delete("/api/people/quiet/events").json()["message"] == (
        "0 events were deleted"
    )


@pytest.mark.pii
def test_a_users_events_in_another_tenant_are_404(api_client, other_tenant):
    EventLogFactory(event__tenant=other_tenant, distinct_id="theirs")
    PersonFactory(tenant_id=other_tenant.pk, distinct_id="theirs")

    assert api_client.delete("/api/people/theirs/events").status_code == 404
    assert EventLog.objects.filter(tenant=other_tenant).count() == 1
