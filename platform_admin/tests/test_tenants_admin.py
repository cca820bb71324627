"""/api/admin/tenants/: staff only, every tenant with its activity, block and unblock."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Tenant
from accounts.tests.factories import TenantFactory, UserFactory
from events.tests.factories import EventFactory, EventLogFactory

TENANTS = "/api/admin/tenants/"


def staff_with(*codenames: str):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return staff


@pytest.fixture
def staff(db):
    return staff_with("view_tenant", "change_tenant")


@pytest.fixture
def staff_client(staff, token_client) -> APIClient:
    return token_client(staff)


def _logs(tenant, *counts: int) -> None:
    event = EventFactory(tenant=tenant)
    for index, count in enumerate(counts):
        received = dt.datetime(2024, 6, 1, tzinfo=dt.UTC) + dt.timedelta(hours=index)
        EventLogFactory(event=event, count=count, received_at=received)


def test_staff_see_every_tenant_with_totals_and_last_event(
    staff_client, staff, tenant, other_tenant
):
    _logs(tenant, 2, 3)
    _logs(other_tenant, 1)

    response = staff_client.get(TENANTS)

    rows = {row["id"]: row for row in response.json()}
    assert response.status_code == 200
    assert set(rows) == {staff.tenant_id, tenant.pk, other_tenant.pk}
    assert rows[tenant.pk]["events_total"] == 5
    assert rows[tenant.pk]["last_event_at"] == "2024-06-01T01:00:00Z"
    assert rows[other_tenant.pk]["events_total"] == 1
    assert rows[staff.tenant_id]["events_total"] == 0
    assert rows[staff.tenant_id]["last_event_at"] is None
    assert {"id", "name", "is_active", "events_total", "last_event_at"} <= set(rows[tenant.pk])


def test_the_list_is_one_query_however_many_tenants(staff_client):
    for _ in range(5):
        _logs(TenantFactory(), 1, 1)

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(TENANTS)

    assert len(response.json()) == 6
    # The token lookup, the staff member's permissions, the count for X-Total-Count, the
    # page: none per tenant.
    assert len(queries) <= 4


def test_list_filters_and_searches(staff_client, tenant, other_tenant):
    other_tenant.is_active = False
    other_tenant.save()

    blocked = staff_client.get(TENANTS, {"is_active": "false"}).json()
    found = staff_client.get(TENANTS, {"search": tenant.slug}).json()

    assert [row["id"] for row in blocked] == [other_tenant.pk]
    assert [row["id"] for row in found] == [tenant.pk]


def test_list_orders_by_activity(staff_client, tenant, other_tenant):
    _logs(tenant, 1)
    _logs(other_tenant, 5)

    rows = staff_client.get(TENANTS, {"ordering": "-events_total"}).json()

    assert [row["events_total"] for row in rows][:2] == [5, 1]


def test_block_and_unblock(staff_client, tenant, api_client):
    blocked = staff_client.post(f"{TENANTS}{tenant.pk}/block")

    assert blocked.status_code == 200
    assert blocked.json()["is_active"] is False
    assert api_client.get("/api/events/").status_code == 403
    refused = api_client.post("/api/eventlogs/", {"event_name": "x"}, format="json")
    assert refused.status_code == 403
    assert "blocked" in refused.json()["detail"]

    unblocked = staff_client.post(f"{TENANTS}{tenant.pk}/unblock")

    assert unblocked.json()["is_active"] is True
    assert api_client.get("/api/events/").status_code == 200


def test_a_blocked_tenants_api_keys_cannot_ingest(staff_client, tenant, key_client):
    ingest = key_client("ingest")
    staff_client.post(f"{TENANTS}{tenant.pk}/block")

    refused = ingest.post("/api/eventlogs/", {"event_name": "x"}, format="json")
    batch = ingest.post("/api/eventlogs/batch/", {"events": [{"event_name": "x"}]}, format="json")

    assert refused.status_code == 403
    assert batch.status_code == 403
    assert not tenant.events.exists()


def test_staff_cannot_block_their_own_tenant(staff_client, staff):
    response = staff_client.post(f"{TENANTS}{staff.tenant_id}/block")

    assert response.status_code == 400
    assert Tenant.objects.get(pk=staff.tenant_id).is_active


def test_unknown_tenant_is_404(staff_client):
    assert staff_client.get(f"{TENANTS}999999").status_code == 404
    assert staff_client.post(f"{TENANTS}999999/block").status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", TENANTS),
        ("get", f"{TENANTS}1"),
        ("post", f"{TENANTS}1/block"),
        ("patch", f"{TENANTS}1"),
    ],
)
def test_non_staff_users_are_403(api_client, other_tenant, method, url):
    url = url.replace("/1", f"/{other_tenant.pk}")
    response = getattr(api_client, method)(url, {"read_rate": "off"}, format="json")

    assert response.status_code == 403
    other_tenant.refresh_from_db()
    assert other_tenant.is_active
    assert other_tenant.read_rate == ""


def test_staff_set_a_tenants_rate_limits(staff_client, other_tenant):
    response = staff_client.patch(
        f"{TENANTS}{other_tenant.pk}", {"ingest_rate": "50/s", "read_rate": "off"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["ingest_rate"], response.json()["read_rate"]) == ("50/s", "off")
    other_tenant.refresh_from_db()
    assert (other_tenant.ingest_rate, other_tenant.read_rate) == ("50/s", "off")


@pytest.mark.parametrize("default", [None, ""])
def test_null_or_empty_gives_a_tenant_the_servers_rate_again(staff_client, other_tenant, default):
    other_tenant.ingest_rate = "50/s"
    other_tenant.save()

    response = staff_client.patch(
        f"{TENANTS}{other_tenant.pk}", {"ingest_rate": default}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["ingest_rate"] == ""
    other_tenant.refresh_from_db()
    assert other_tenant.ingest_rate == ""


def test_setting_a_rate_writes_only_the_rates(staff_client, other_tenant):
    """A whole-row save would put back the is_active and cache_version read before it,
    undoing a block or a credential change made meanwhile."""
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.patch(
            f"{TENANTS}{other_tenant.pk}", {"ingest_rate": "50/s"}, format="json"
        )

    assert response.status_code == 200
    [update] = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "accounts_tenant"')]
    assert "ingest_rate" in update
    assert "is_active" not in update
    assert "cache_version" not in update


@pytest.mark.parametrize("body", [{"ingest_rate": "fast"}, {"read_rate": "10/fortnight"}])
def test_bad_rate_limits_are_400(staff_client, other_tenant, body):
    response = staff_client.patch(f"{TENANTS}{other_tenant.pk}", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(body)


@pytest.mark.parametrize("body", [{"ingest_rate": "0/min"}, {"read_rate": " 00 / s "}])
def test_a_rate_of_zero_is_a_400_pointing_to_block_and_off(staff_client, other_tenant, body):
    """0/min answered 429 to the tenant for ever: stopping a tenant is what /block is for."""
    response = staff_client.patch(f"{TENANTS}{other_tenant.pk}", body, format="json")

    assert response.status_code == 400
    [(field, [message])] = response.json().items()
    assert field == next(iter(body))
    assert "/block" in message
    assert "off" in message
    assert Tenant.objects.get(pk=other_tenant.pk).ingest_rate == ""


@pytest.mark.parametrize("role", ["ingest", "read", "admin"])
def test_api_keys_are_403_whatever_their_role(key_client, other_tenant, role):
    client = key_client(role)

    assert client.get(TENANTS).status_code == 403
    assert client.post(f"{TENANTS}{other_tenant.pk}/block").status_code == 403
    assert Tenant.objects.get(pk=other_tenant.pk).is_active


def test_anonymous_is_401(anon_client):
    assert anon_client.get(TENANTS).status_code == 401


def test_a_staff_user_of_a_blocked_tenant_is_refused_too(staff, staff_client):
    Tenant.objects.filter(pk=staff.tenant_id).update(is_active=False)

    assert staff_client.get(TENANTS).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"retention_days": 30},
        {"is_active": False},
        {"name": "renamed"},
        {"slug": "renamed"},
        {"events_total": 1},
        {"ingest_rate": "50/s", "name": "renamed"},
    ],
)
def test_fields_patch_does_not_set_are_a_400_naming_them(staff_client, other_tenant, body):
    before = Tenant.objects.values().get(pk=other_tenant.pk)

    response = staff_client.patch(f"{TENANTS}{other_tenant.pk}", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(body) - {"ingest_rate"}
    assert Tenant.objects.values().get(pk=other_tenant.pk) == before


def test_staff_without_the_tenant_permissions_are_403(token_client, other_tenant):
    """is_staff alone let a staff member whom the Django admin shows nothing list every
    tenant and block it."""
    client = token_client(staff_with())

    listing = client.get(TENANTS)
    block = client.post(f"{TENANTS}{other_tenant.pk}/block")

    assert listing.status_code == 403
    assert block.status_code == 403
    other_tenant.refresh_from_db()
    assert other_tenant.is_active


def test_staff_allowed_to_view_tenants_read_but_cannot_block_or_patch(token_client, other_tenant):
    client = token_client(staff_with("view_tenant"))

    listing = client.get(TENANTS)
    one = client.get(f"{TENANTS}{other_tenant.pk}")
    block = client.post(f"{TENANTS}{other_tenant.pk}/block")
    patch = client.patch(f"{TENANTS}{other_tenant.pk}", {"ingest_rate": "5/s"}, format="json")

    assert (listing.status_code, one.status_code) == (200, 200)
    assert (block.status_code, patch.status_code) == (403, 403)
    other_tenant.refresh_from_db()
    assert other_tenant.is_active
    assert other_tenant.ingest_rate == ""


def test_superusers_need_no_permission_given(token_client, other_tenant):
    superuser = UserFactory(is_staff=True, is_superuser=True)

    response = token_client(superuser).post(f"{TENANTS}{other_tenant.pk}/block")

    assert response.status_code == 200
