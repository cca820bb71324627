"""The caller's tenant, visible: GET /api/tenant/ and the dashboard (/auth/users/me/ keeps
seed 001's shape)."""

import pytest

pytestmark = pytest.mark.django_db
FIELDS = {
    "id",
    "slug",
    "name",
    "timezone",
    "is_active",
    "session_minutes",
    "respect_dnt",
    "auto_create_events",
    "retention_days",
    "ingest_rate",
    "read_rate",
    "created_at",
}


def test_tenant_route_shows_the_callers_own_tenant(api_client, other_client, tenant, other_tenant):
    mine, theirs = api_client.get("/api/tenant/"), other_client.get("/api/tenant/")

    assert mine.status_code == theirs.status_code == 200
    assert set(mine.json()) == FIELDS
    assert (mine.json()["id"], mine.json()["slug"]) == (tenant.pk, tenant.slug)
    assert (theirs.json()["id"], theirs.json()["slug"]) == (other_tenant.pk, other_tenant.slug)


@pytest.mark.parametrize(("role", "status"), [("read", 200), ("admin", 200), ("ingest", 403)])
def test_tenant_route_with_api_keys(key_client, tenant, role, status):
    response = key_client(role).get("/api/tenant")  # the slash is optional

    assert response.status_code == status
    if status == 200:
        assert response.json()["slug"] == tenant.slug


def test_tenant_route_is_read_and_patch_only_and_needs_a_credential(api_client, anon_client):
    assert anon_client.get("/api/tenant/").status_code == 401
    assert anon_client.patch("/api/tenant/", {}, format="json").status_code == 401
    for method in ("post", "put", "delete"):  # PATCH: test_tenant_settings
        response = getattr(api_client, method)("/api/tenant/", {"slug": "x"}, format="json")
        assert response.status_code == 405, method


def test_dashboard_shows_the_tenant_slug(client, user, tenant):
    client.force_login(user)

    page = client.get("/dashboard/").content.decode()

    assert tenant.slug in page
    assert "create_api_key --tenant" in page
