"""PATCH /api/tenant/: a tenant's owner changes its own settings, with the model's rules;
the change holds from the very next request; only owners (user logins) may, and only
their own tenant's."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from accounts.models import MAX_RETENTION_DAYS, Tenant, User
from accounts.services import api_key_create
from conftest import client_for
from events.tests.factories import EventFactory, EventLogFactory

pytestmark = pytest.mark.django_db
URL = "/api/tenant/"
SHOP = "https://shop.example"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SETTINGS = ["name", "timezone", "auto_create_events", "retention_days", "session_minutes"]


def patch(client, body):
    return client.patch(URL, body, format="json")


def member_client(tenant, role: str):
    member = User.objects.create_user(
        f"{role}-of-{tenant.pk}", password="x", tenant=tenant, role=role
    )
    return client_for(member)


def test_an_owner_changes_every_setting_and_gets_the_tenant_as_get_shows_it(api_client, tenant):
    body = {
        "name": "Shop",
        "timezone": "Asia/Tokyo",
        "auto_create_events": False,
        "retention_days": 90,
        "session_minutes": 45,
        "respect_dnt": True,
    }

    response = patch(api_client, body)

    assert response.status_code == 200, response.content
    assert response.json() == api_client.get(URL).json()
    assert {name: response.json()[name] for name in body} == body
    tenant.refresh_from_db()
    assert {name: getattr(tenant, name) for name in body} == body


def test_one_field_changes_alone(api_client, tenant):
    before = api_client.get(URL).json()

    response = patch(api_client, {"session_minutes": 10})

    assert response.json() == {**before, "session_minutes": 10}


def test_retention_may_be_lifted_with_null(api_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(retention_days=30)

    response = patch(api_client, {"retention_days": None})

    assert (response.status_code, response.json()["retention_days"]) == (200, None)


def test_a_changed_zone_is_the_next_requests_default_zone(api_client, tenant):
    api_client.get("/api/stats/event_trend")  # the credential is cached with UTC

    assert patch(api_client, {"timezone": "Asia/Tokyo"}).status_code == 200

    assert api_client.get("/api/stats/event_trend")["X-Timezone"] == "Asia/Tokyo"


def test_auto_create_events_off_refuses_an_unknown_event_on_the_next_request(
    api_client, key_client, tenant
):
    ingest = key_client("ingest")
    assert ingest.post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code == 201

    assert patch(api_client, {"auto_create_events": False}).status_code == 200

    for client in (ingest, api_client):  # the single-event fast path and the view
        response = client.post("/api/eventlogs/", {"event_name": "new"}, format="json")
        assert response.status_code == 400
        assert "auto_create_events" in response.json()["event_name"][0]
    batch = ingest.post("/api/eventlogs/batch/", {"events": [{"event_name": "new"}]}, format="json")
    assert [r["reason"] for r in batch.json()["receipts"]] == ["unknown_event"]
    assert ingest.post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code == 201


def test_respect_dnt_refuses_do_not_track_on_the_next_request(api_client, tenant):
    _, secret = api_key_create(tenant=tenant, name="web", role="ingest", allowed_origins=[SHOP])
    page = APIClient(HTTP_X_API_KEY=secret, HTTP_ORIGIN=SHOP, HTTP_USER_AGENT=FIREFOX, HTTP_DNT="1")
    send = lambda: page.post("/api/eventlogs/", {"event_name": "a"}, format="json")  # noqa: E731
    assert send().status_code == 201

    assert patch(api_client, {"respect_dnt": True}).status_code == 200

    response = send()
    assert response.status_code == 403
    assert "Do-Not-Track" in response.json()["detail"]


def test_session_minutes_cut_the_next_requests_visits(api_client, tenant):
    view = EventFactory(tenant=tenant, name="$pageview")
    for minute in (0, 40):  # one visitor, a 40-minute gap
        when = dt.datetime(2026, 3, 1, 10, minute, tzinfo=dt.UTC)
        EventLogFactory(event=view, distinct_id="v", timestamp=when, data={"$pathname": "/"})
    query = {"start_date": "2026-03-01", "end_date": "2026-03-01", "tz": "UTC"}
    assert api_client.get("/api/stats/web", query).json()["visits"] == 2

    assert patch(api_client, {"session_minutes": 60}).status_code == 200

    assert api_client.get("/api/stats/web", query).json()["visits"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"timezone": 9}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 12}, "name"),
        ({"name": None}, "name"),
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": MAX_RETENTION_DAYS + 1}, "retention_days"),
        ({"retention_days": "30"}, "retention_days"),
        ({"retention_days": 30.5}, "retention_days"),
        ({"retention_days": True}, "retention_days"),
        ({"session_minutes": 0}, "session_minutes"),
        ({"session_minutes": 24 * 60 + 1}, "session_minutes"),
        ({"session_minutes": None}, "session_minutes"),
        ({"auto_create_events": "false"}, "auto_create_events"),
        ({"auto_create_events": 0}, "auto_create_events"),
        ({"auto_create_events": None}, "auto_create_events"),
        ({"respect_dnt": "yes"}, "respect_dnt"),
        ({"respect_dnt": None}, "respect_dnt"),
        ({"colour": "red"}, "colour"),  # unknown
        ({"tenant": 2}, "tenant"),  # unknown
    ],
)
def test_a_bad_value_is_a_400_naming_the_field_and_changes_nothing(api_client, tenant, body, field):
    before = api_client.get(URL).json()

    response = patch(api_client, {"session_minutes": 10, **body})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert api_client.get(URL).json() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 1),
        ("slug", "mine"),
        ("is_active", True),
        ("ingest_rate", "off"),
        ("read_rate", "10/s"),
        ("created_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_a_read_only_field_is_a_400_pointing_to_the_platform_admin(
    api_client, tenant, field, value
):
    response = patch(api_client, {"name": "Shop", field: value})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert "/api/admin/tenants/" in response.json()[field][0]
    tenant.refresh_from_db()
    assert tenant.name != "Shop"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403_naming_the_owner_role(tenant, role):
    response = patch(member_client(tenant, role), {"name": "Mine"})

    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Your role in this tenant is '{role}'; this request needs owner."
    )
    assert Tenant.objects.get(pk=tenant.pk).name != "Mine"


@pytest.mark.parametrize("role", ["ingest", "read", "admin"])
def test_api_keys_get_403_needing_a_user_login(key_client, tenant, role):
    response = patch(key_client(role), {"name": "Mine"})

    assert response.status_code == 403
    assert "needs a user login" in response.json()["detail"]
    assert Tenant.objects.get(pk=tenant.pk).name != "Mine"


def test_another_owner_in_the_tenant_may(tenant):
    assert patch(member_client(tenant, "owner"), {"name": "Ours"}).status_code == 200


def test_another_tenant_is_untouched(api_client, other_client, tenant, other_tenant):
    theirs = other_client.get(URL).json()

    assert patch(api_client, {"name": "Shop", "timezone": "Asia/Tokyo"}).status_code == 200

    assert other_client.get(URL).json() == theirs


def test_a_blocked_tenants_owner_gets_403(api_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)

    response = patch(api_client, {"name": "Back"})

    assert response.status_code == 403
    assert "blocked" in response.json()["detail"]
    assert Tenant.objects.get(pk=tenant.pk).name != "Back"


def test_only_the_changed_columns_are_written(api_client, tenant):
    """A block or a credential change made since the request read its tenant is kept."""
    api_client.get(URL)
    Tenant.objects.filter(pk=tenant.pk).update(read_rate="5/s")

    assert patch(api_client, {"name": "Shop"}).json()["read_rate"] == "5/s"


def test_put_is_not_offered(api_client):
    response = api_client.put(URL, {"name": "Shop"}, format="json")

    assert response.status_code == 405


def test_the_schema_shows_patch_with_its_body(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/tenant/"]["patch"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(body["properties"]) == {*SETTINGS, "respect_dnt"}
    assert "put" not in schema["paths"]["/api/tenant/"]
