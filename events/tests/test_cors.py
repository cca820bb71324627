"""Browsers on the ingestion routes: ingest keys in `?key=`, `text/plain` bodies, CORS
by each key's allowed_origins (refusals counted), preflights, and /t.js."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from events.models import EventLog, IngestionCountTotal

pytestmark = pytest.mark.django_db
BATCH = "/api/eventlogs/batch/"
SHOP = "https://shop.example"


@pytest.fixture
def ingest_key(tenant):
    _, secret = api_key_create(
        tenant=tenant, name="web", role="ingest", allowed_origins=[SHOP, "*.example.org"]
    )
    return secret


def _beacon(secret: str, origin: str | None = SHOP, *, path: str = BATCH, **extra):
    """What the tracker sends: text/plain JSON, the key in the URL, no custom header."""
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    body = json.dumps({"events": [{"event_name": "click", "data": {"x": 1}}]})
    return APIClient().generic(
        "POST",
        f"{path}?key={secret}",
        body,
        content_type="text/plain;charset=UTF-8",
        **headers,
        **extra,
    )


def test_an_allowed_origin_sends_text_plain_with_the_key_in_the_url(ingest_key):
    response = _beacon(ingest_key)

    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "Retry-After" in response["Access-Control-Expose-Headers"]
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response
    assert EventLog.objects.get().data == {"x": 1}


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (SHOP, True),
        ("https://shop.example:443", True),
        ("http://shop.example", False),
        ("https://evil.example", False),
        ("https://a.example.org", True),
        ("http://b.a.example.org", True),
        ("https://example.org", False),
        ("https://example.org.evil.net", False),
        ("null", False),
    ],
)
def test_the_keys_allowed_origins_decide(ingest_key, origin, allowed):
    response = _beacon(ingest_key, origin)

    assert response.status_code == (200 if allowed else 403)
    # Refused or not, the page may read why: it then stops retrying.
    assert response["Access-Control-Allow-Origin"] == origin
    if not allowed:
        assert response.json()["reason"] == "origin_not_allowed"


def test_a_refused_origin_is_counted_with_its_items_and_stores_nothing(ingest_key, tenant):
    _beacon(ingest_key, "https://evil.example")

    counted = IngestionCountTotal.objects.get(tenant=tenant)
    assert (counted.reason, counted.events, counted.requests) == ("origin_not_allowed", 1, 1)
    assert not EventLog.objects.exists()


def test_a_key_without_origins_is_for_servers_only(tenant):
    _, secret = api_key_create(tenant=tenant, name="server", role="ingest")

    from_a_page = _beacon(secret, SHOP)
    from_a_server = _beacon(secret, None)

    assert (from_a_page.status_code, from_a_server.status_code) == (403, 200)


def test_star_allows_every_web_origin(tenant):
    _, secret = api_key_create(tenant=tenant, name="any", role="ingest", allowed_origins=["*"])

    assert _beacon(secret, "https://anything.example").status_code == 200
    assert _beacon(secret, "null").status_code == 403


@pytest.mark.parametrize("role", ["read", "admin"])
def test_read_and_admin_keys_are_never_usable_cross_origin(tenant, role):
    _, secret = api_key_create(tenant=tenant, name=role, role=role, allowed_origins=["*"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)

    response = client.post(
        BATCH, {"events": [{"event_name": "a"}]}, format="json", HTTP_ORIGIN=SHOP
    )

    assert response.status_code == 403
    assert not EventLog.objects.exists()
    if role == "admin":  # a read key may not post at all; an admin key not from a page
        assert response.json()["reason"] == "origin_not_allowed"


def test_tokens_are_refused_cross_origin_but_fine_same_origin(api_client):
    body = {"events": [{"event_name": "a"}]}

    foreign = api_client.post(BATCH, body, format="json", HTTP_ORIGIN=SHOP)
    same = api_client.post(BATCH, body, format="json", HTTP_ORIGIN="http://testserver")

    assert (foreign.status_code, same.status_code) == (403, 200)
    assert "Access-Control-Allow-Origin" not in same


@pytest.mark.parametrize("role", ["read", "admin"])
def test_only_ingest_keys_may_travel_in_the_url(tenant, role):
    _, secret = api_key_create(tenant=tenant, name=role, role=role)

    response = _beacon(secret, None)

    assert response.status_code == 401
    assert "Only ingest keys" in response.json()["detail"]


def test_a_bad_key_in_the_url_is_a_401(ingest_key):
    assert _beacon(ingest_key[:-2] + "xx").status_code == 401


def test_the_key_in_the_url_wins_over_a_session_cookie(ingest_key, user, client):
    # sendBeacon sends cookies: a logged-in dashboard user must not turn the beacon into
    # a session request (which would fail CSRF).
    client.force_login(user)
    body = json.dumps({"events": [{"event_name": "a"}]})

    response = client.generic(
        "POST", f"{BATCH}?key={ingest_key}", body, content_type="text/plain", HTTP_ORIGIN=SHOP
    )

    assert response.status_code == 200
    assert EventLog.objects.get().api_key is not None


def test_preflight_allows_post_with_content_type_and_the_key_header():
    response = APIClient().options(
        BATCH,
        HTTP_ORIGIN=SHOP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-api-key",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert response["Access-Control-Allow-Methods"] == "POST"
    assert {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")} == {
        "content-type",
        "x-api-key",
    }
    assert int(response["Access-Control-Max-Age"]) > 0
    assert not IngestionCountTotal.objects.exists()


def test_a_preflighted_post_with_the_key_header_works_from_an_allowed_origin(ingest_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=ingest_key)

    response = client.post(
        "/api/eventlogs/", {"event_name": "a"}, format="json", HTTP_ORIGIN="https://x.example.org"
    )

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "https://x.example.org"


def test_other_routes_send_no_cors_headers(ingest_key, api_client):
    response = api_client.get("/api/events/", HTTP_ORIGIN=SHOP)
    options = APIClient().options(
        "/api/events/", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in options


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["https://Shop.Example/"], ["https://shop.example"]),
        (["https://shop.example:443", "https://shop.example"], ["https://shop.example"]),
        (["http://localhost:8000"], ["http://localhost:8000"]),
        (["*.example.com", "https://*.example.net"], ["*.example.com", "https://*.example.net"]),
        (["*"], ["*"]),
    ],
)
def test_allowed_origins_are_stored_normalised(api_client, given, stored):
    response = api_client.post(
        "/api/keys/", {"name": "web", "role": "ingest", "allowed_origins": given}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["allowed_origins"] == stored


@pytest.mark.parametrize(
    "origin", ["shop.example", "ftp://shop.example", "https://shop.example/path", "https://", "*."]
)
def test_a_bad_allowed_origin_is_a_400_naming_it(api_client, origin):
    response = api_client.post(
        "/api/keys/", {"name": "web", "role": "ingest", "allowed_origins": [origin]}, format="json"
    )

    assert response.status_code == 400
    assert origin in response.json()["allowed_origins"][0]


def test_tracker_js_is_served_small_cacheable_and_revalidated(client):
    response = client.get("/t.js")
    again = client.get("/t.js", HTTP_IF_NONE_MATCH=response["ETag"])

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "max-age=" in response["Cache-Control"]
    assert len(response.content) <= 5 * 1024
    assert b"eventtracker" in response.content
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/l.js", "/js/shop-assets.links.js"])
def test_the_links_add_on_is_served_small_cacheable_and_revalidated(client, path):
    response = client.get(path)
    again = client.get(path, HTTP_IF_NONE_MATCH=response["ETag"])
    tracker = client.get("/js/shop-assets.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert len(response.content) <= 1024
    assert b"$outbound" in response.content
    assert b"$download" in response.content
    assert again.status_code == 304
    assert tracker.content != response.content  # the tracker keeps its own names
