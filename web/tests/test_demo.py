"""The tracker demo page: who may open it, its key, and the ?key=&host= override."""

import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create
from web.tests.conftest import BATCH
from web.tests.markup import json_script, parse

pytestmark = pytest.mark.django_db
DEMO = "/demo/"
BUTTON_IDS = {
    "track-add-to-cart",
    "track-checkout",
    "track-sign-up",
    "identify-demo-user-1",
    "reset-identity",
    "flush-now",
}


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def demo_key(response) -> str:
    return json_script(response, "demo-config")["key"]


def send_as_tracker(key: str, **headers):
    """What t.js sends: text/plain JSON, the key in the URL."""
    body = json.dumps({"events": [{"event_name": "add_to_cart", "data": {"sku": "demo-42"}}]})
    return APIClient().generic(
        "POST", f"{BATCH}?key={key}", body, content_type="text/plain", **headers
    )


def test_without_debug_the_demo_is_404_for_anonymous_and_non_staff_users(client, web_client):
    assert client.get(DEMO).status_code == 404
    assert client.get(DEMO, {"key": "et_x_y"}).status_code == 404
    assert web_client.get(DEMO).status_code == 404


def test_without_debug_staff_users_get_the_demo(user):
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)

    assert client.get(DEMO).status_code == 200


@pytest.mark.usefixtures("debug")
def test_the_demo_needs_a_login_for_a_key_of_ours(client):
    response = client.get(DEMO)

    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/login/?next={DEMO}"


@pytest.mark.usefixtures("debug")
def test_the_demo_loads_the_tracker_with_a_key_that_ingests(web_client, tenant):
    response = web_client.get(DEMO)

    html = response.content.decode()
    key = demo_key(response)
    stored = ApiKey.objects.get(tenant=tenant, name="demo page")
    assert response.status_code == 200
    assert '<script src="/t.js"></script>' in html
    assert json_script(response, "demo-config") == {"key": key, "host": None}
    assert key.startswith(f"et_{stored.prefix}_")
    assert stored.role == "ingest"
    assert stored.allowed_origins == ["http://testserver"]
    sent = send_as_tracker(key, HTTP_ORIGIN="http://testserver")
    assert sent.status_code == 200, sent.content
    assert sent.json()["accepted"] == 1


@pytest.mark.usefixtures("debug")
def test_the_demo_key_allows_the_pages_origin_from_another_host(web_client):
    key = demo_key(web_client.get(DEMO))

    # Served by "localhost", sent from a page of http://testserver: a cross-origin request.
    allowed = send_as_tracker(key, HTTP_ORIGIN="http://testserver", HTTP_HOST="localhost")
    refused = send_as_tracker(key, HTTP_ORIGIN="https://evil.example", HTTP_HOST="localhost")

    assert allowed.status_code == 200, allowed.content
    assert refused.status_code == 403


@pytest.mark.usefixtures("debug")
def test_the_buttons_have_stable_ids_and_their_event_data(web_client):
    buttons = {b["id"]: b for b in parse(web_client.get(DEMO)).all("button") if b.get("id")}

    assert set(buttons) == BUTTON_IDS
    assert buttons["track-add-to-cart"]["data-event"] == "add_to_cart"
    assert json.loads(buttons["track-add-to-cart"]["data-props"]) == {
        "sku": "demo-42",
        "price": 19.99,
    }
    assert buttons["identify-demo-user-1"]["data-identify"] == "demo-user-1"


@pytest.mark.usefixtures("debug")
def test_the_demo_key_is_reused_within_a_session(web_client, tenant):
    first = demo_key(web_client.get(DEMO))
    second = demo_key(web_client.get(DEMO))

    assert first == second
    assert ApiKey.objects.filter(tenant=tenant, name="demo page").count() == 1


@pytest.mark.usefixtures("debug")
def test_a_new_session_replaces_the_tenants_demo_key(web_client, user, tenant):
    old = demo_key(web_client.get(DEMO))
    other_session = Client()
    other_session.force_login(user)

    new = demo_key(other_session.get(DEMO))

    assert new != old
    usable = ApiKey.objects.filter(tenant=tenant, name="demo page", revoked_at__isnull=True)
    assert usable.count() == 1
    assert send_as_tracker(old).status_code == 401
    assert send_as_tracker(new).status_code == 200


@pytest.mark.usefixtures("debug")
def test_a_revoked_demo_key_is_replaced(web_client, tenant):
    old = demo_key(web_client.get(DEMO))
    ApiKey.objects.filter(tenant=tenant).update(revoked_at="2024-01-01T00:00:00Z")

    assert demo_key(web_client.get(DEMO)) != old


@pytest.mark.usefixtures("debug")
def test_the_demo_key_belongs_to_the_users_tenant_only(web_client, other_web_client, tenant):
    demo_key(web_client.get(DEMO))
    demo_key(other_web_client.get(DEMO))

    assert ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).count() == 1
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2


@pytest.mark.usefixtures("debug")
def test_key_and_host_can_be_given_without_a_login(client, other_tenant):
    _, key = api_key_create(tenant=other_tenant, name="e2e", role="ingest")

    response = client.get(DEMO, {"key": key, "host": "http://127.0.0.1:8001"})

    assert response.status_code == 200
    assert json_script(response, "demo-config") == {"key": key, "host": "http://127.0.0.1:8001"}
    assert not ApiKey.objects.filter(name="demo page").exists()


@pytest.mark.usefixtures("debug")
@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("https://events.example/", "https://events.example"),
        ("HTTP://[::1]:8001", "http://[::1]:8001"),
        ("http://web:65535", "http://web:65535"),
    ],
)
def test_the_host_is_an_origin_and_only_that_reaches_the_policy(client, host, origin):
    response = client.get(DEMO, {"key": "k", "host": host})

    policy = response["Content-Security-Policy"]
    connect = next(part for part in policy.split(";") if "connect-src" in part)
    assert json_script(response, "demo-config")["host"] == origin
    assert connect.split()[-1] == origin
    without_host = client.get(DEMO, {"key": "k"})["Content-Security-Policy"]
    assert policy.count(";") == without_host.count(";")  # no directive added


@pytest.mark.usefixtures("debug")
def test_the_given_key_reaches_the_page_only_as_escaped_json(client):
    hostile = '</script><script>alert("x")</script>'

    response = client.get(DEMO, {"key": hostile})

    html = response.content.decode()
    assert response.status_code == 200
    assert hostile not in html
    assert "<script>alert" not in html
    assert demo_key(response) == hostile


@pytest.mark.usefixtures("debug")
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"key": "k", "host": "javascript:alert(1)"}, "Must be an origin"),
        ({"key": "k", "host": "https://user@events.example"}, "Must be an origin"),
        ({"key": "k", "host": "https://events.example/?a=1"}, "Must be an origin"),
        ({"key": "k", "host": "https://events.example/api"}, "Must be an origin"),
        ({"key": "k", "host": "https://[::1"}, "Must be an origin"),
        ({"key": "k", "host": "https://[::g]"}, "Must be an origin"),
        ({"key": "k", "host": "https://x.example:99999"}, "Must be an origin"),
        ({"key": "k", "host": "https://x.example:0"}, "Must be an origin"),
        ({"key": "k", "host": "https://evil.example/; script-src 'unsafe-inline'"}, "origin"),
        ({"key": "k", "host": "https://evil.example;script-src 'unsafe-inline'"}, "origin"),
        ({"key": "k", "host": "https://evil example"}, "Must be an origin"),
        ({"host": "https://events.example"}, "A host needs a key"),
    ],
)
def test_a_bad_override_is_an_error_message(client, query, message):
    response = client.get(DEMO, query)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "demo-config" not in response.content.decode()


@pytest.mark.usefixtures("debug")
def test_a_blocked_tenant_gets_no_demo_key(web_client, tenant):
    tenant.is_active = False
    tenant.save()

    response = web_client.get(DEMO)

    assert response.status_code == 403
    assert not ApiKey.objects.exists()
