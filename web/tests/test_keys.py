"""API keys on the dashboard: create (secret shown once), revoke, tenancy, CSRF."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create
from web.tests.conftest import BATCH
from web.tests.markup import parse

pytestmark = pytest.mark.django_db
DASHBOARD = "/dashboard/"
CREATE = "/dashboard/keys/"


def revoke_url(key: ApiKey) -> str:
    return f"/dashboard/keys/{key.pk}/revoke/"


def shown_secret(response) -> str | None:
    field = [i for i in parse(response).all("input") if i.get("id") == "new-key-secret"]
    return field[0]["value"] if field else None


def test_a_new_keys_secret_is_shown_once_and_ingests(web_client, tenant, user):
    created = web_client.post(
        CREATE, {"name": "web shop", "role": "ingest", "allowed_origins": ""}, follow=True
    )

    secret = shown_secret(created)
    key = ApiKey.objects.get(tenant=tenant, name="web shop")
    assert created.redirect_chain == [(f"{DASHBOARD}#new-key", 302)]
    assert secret.startswith(f"et_{key.prefix}_")
    assert key.role == "ingest"
    assert key.created_by == user
    assert shown_secret(web_client.get(DASHBOARD)) is None
    assert secret not in web_client.get(DASHBOARD).content.decode()
    sent = APIClient().post(f"{BATCH}?key={secret}", {"events": [{"event_name": "a"}]}, "json")
    assert sent.status_code == 200, sent.content
    assert sent.json()["accepted"] == 1


def test_origins_are_split_normalised_and_deduplicated(web_client, tenant):
    origins = "HTTPS://Shop.Example:443/, *.Example.org\nhttps://shop.example\n\n*"

    web_client.post(CREATE, {"name": "web", "role": "ingest", "allowed_origins": origins})

    key = ApiKey.objects.get(tenant=tenant, name="web")
    assert key.allowed_origins == ["https://shop.example", "*.example.org", "*"]


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": "", "role": "ingest"}, "name", "This field is required."),
        ({"name": "x", "role": "owner"}, "role", "Select a valid choice."),
        (
            {"name": "x", "role": "ingest", "allowed_origins": "ftp://shop.example"},
            "allowed_origins",
            "is not an origin like",
        ),
        (
            {"name": "x", "role": "ingest", "allowed_origins": "https://a.example/path"},
            "allowed_origins",
            "no path",
        ),
        (
            {"name": "x", "role": "ingest", "allowed_origins": ",".join(["*"] * 51)},
            "allowed_origins",
            "At most 50 origins.",
        ),
    ],
)
def test_a_bad_key_form_shows_its_errors(web_client, tenant, form, field, message):
    response = web_client.post(CREATE, form)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["key_form"].errors[field]
    assert not ApiKey.objects.filter(tenant=tenant).exists()


def test_revoking_a_key_makes_it_unusable(web_client, tenant):
    key, secret = api_key_create(tenant=tenant, name="old", role="ingest")

    response = web_client.post(revoke_url(key))

    key.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"{DASHBOARD}#api-keys"
    assert key.revoked_at is not None
    assert APIClient().post(BATCH, {"events": []}, "json", HTTP_X_API_KEY=secret).status_code == 401
    assert '<td class="status-revoked">revoked</td>' in web_client.get(DASHBOARD).content.decode()


def test_revoking_another_tenants_key_is_404(web_client, other_tenant):
    theirs, _ = api_key_create(tenant=other_tenant, name="theirs", role="ingest")

    response = web_client.post(revoke_url(theirs))

    theirs.refresh_from_db()
    assert response.status_code == 404
    assert theirs.revoked_at is None


def test_revoking_needs_a_post(web_client, tenant):
    key, _ = api_key_create(tenant=tenant, name="k", role="ingest")

    assert web_client.get(revoke_url(key)).status_code == 405
    assert web_client.get(CREATE).status_code == 405


def test_anonymous_users_cannot_create_or_revoke(client, tenant):
    key, _ = api_key_create(tenant=tenant, name="k", role="ingest")

    assert client.post(CREATE, {"name": "x", "role": "admin"}).status_code == 302
    assert client.post(revoke_url(key)).status_code == 302
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("k", None)]


@pytest.fixture
def csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_forms_refuse_posts_without_the_csrf_token(csrf_client, tenant):
    key, _ = api_key_create(tenant=tenant, name="k", role="ingest")

    assert csrf_client.post(CREATE, {"name": "x", "role": "admin"}).status_code == 403
    assert csrf_client.post(revoke_url(key)).status_code == 403
    assert csrf_client.post("/dashboard/logout/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1


def test_forms_accept_posts_with_the_csrf_token(csrf_client, tenant):
    csrf_client.get(DASHBOARD)
    token = csrf_client.cookies["csrftoken"].value

    response = csrf_client.post(CREATE, {"name": "x", "role": "read", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert ApiKey.objects.filter(tenant=tenant, name="x", role="read").exists()


def test_a_blocked_tenant_cannot_change_keys(web_client, tenant):
    key, _ = api_key_create(tenant=tenant, name="k", role="ingest")
    tenant.is_active = False
    tenant.save()

    assert web_client.post(CREATE, {"name": "x", "role": "admin"}).status_code == 403
    assert web_client.post(revoke_url(key)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert ApiKey.objects.count() == 1
