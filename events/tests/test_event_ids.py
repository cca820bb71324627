"""Event ids cached per process: a known name costs no query, and a rename or a deletion
(in any process: the tenant's cache_version) is seen by the very next ingest."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Tenant
from events.models import Event, EventLog

URL = "/api/eventlogs/"


def post(client, name: str) -> int:
    response = client.post(URL, {"event_name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["event"]


def event_lookups(client, name: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        post(client, name)
    return sum('FROM "events_event"' in query["sql"] for query in queries.captured_queries)


@pytest.mark.django_db(transaction=True)  # the cache is filled when the request commits
def test_a_known_name_is_resolved_without_a_query(api_client):
    first = post(api_client, "signup")

    assert event_lookups(api_client, "signup") == 0
    assert post(api_client, "signup") == first


@pytest.mark.django_db(transaction=True)
def test_a_renamed_event_is_seen_by_the_next_ingest(api_client, tenant):
    old = post(api_client, "signup")
    response = api_client.patch(f"/api/events/{old}", {"name": "register"}, format="json")
    assert response.status_code == 200

    assert post(api_client, "register") == old
    assert post(api_client, "signup") != old  # the old name is a new event now
    assert Tenant.objects.get(pk=tenant.pk).cache_version > 0


@pytest.mark.django_db(transaction=True)
def test_a_deleted_event_is_created_anew_not_a_foreign_key_error(api_client, tenant):
    old = post(api_client, "signup")
    assert api_client.delete(f"/api/events/{old}").status_code == 204

    new = post(api_client, "signup")

    assert new != old
    assert list(Event.objects.filter(tenant=tenant).values_list("id", flat=True)) == [new]
    assert EventLog.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_cache_is_per_tenant(api_client, other_client):
    mine, theirs = post(api_client, "signup"), post(other_client, "signup")

    assert mine != theirs
    assert post(other_client, "signup") == theirs
    assert post(api_client, "signup") == mine
