"""The browsable API reads like DRF's: indented JSON, Markdown descriptions, and a root
that lists every route group."""

import json
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.django_db


def _html(api_client, path: str) -> str:
    response = api_client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_json_in_the_browsable_api_is_indented(api_client):
    api_client.post("/api/events/", {"name": "signup"}, format="json")

    page = _html(api_client, "/api/events/")

    assert "[\n    {\n        &quot;id&quot;" in page or '[\n    {\n        "id"' in page


def test_plain_json_answers_stay_compact(api_client):
    api_client.post("/api/events/", {"name": "signup"}, format="json")

    body = api_client.get("/api/events/").content

    assert b"\n" not in body
    assert json.loads(body)[0]["name"] == "signup"


def test_json_is_indented_when_the_client_asks(api_client):
    response = api_client.get("/api/tenant/", HTTP_ACCEPT="application/json; indent=2")

    assert response.content.startswith(b'{\n  "id"')


def test_descriptions_are_rendered_as_markdown(api_client):
    page = _html(api_client, "/api/blocklist/")

    # The docstring's `ip` and `user_agent` come out as code, not as raw backticks.
    assert "<code>ip</code>" in page
    assert "`ip`" not in page


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/query?q=%7B%7D", "Any count over the tenant"),
        ("/api/funnels?q=%7B%22steps%22%3A%5B%22a%22%2C%22b%22%5D%7D", "How many users go"),
    ],
)
def test_insight_routes_render_in_the_browsable_api(api_client, path, says):
    page = _html(api_client, path)

    assert says in page
    assert "&quot;total&quot;" in page or "&quot;steps&quot;" in page


@pytest.mark.pii  # the people link reads the personal-data database
def test_the_root_lists_every_route_group(api_client):
    root = api_client.get("/api/").json()

    for name in (
        "events",
        "eventlogs",
        "keys",
        "people",
        "tenant",
        "stats/event_trend",
        "stats/ingestion",
        "stats/user_activity",
        "stats/active_users",
        "query",
        "funnels",
        "retention",
        "v1/events",
        "auth/users/me",
        "docs",
        "schema",
    ):
        assert name in root, name
    assert root["stats/event_trend"].endswith("/api/stats/event_trend")
    for name, url in root.items():
        # Each link is routed (never a 404): 200, 400 naming a required parameter (some
        # stats), 403 for the platform admin's (staff only), 405 for the POST-only login.
        response = api_client.get(url)
        assert response.status_code in (200, 400, 403, 405), url
        if response.status_code == 403:
            assert name.startswith("admin/"), name
        if name not in ("docs", "schema"):  # an HTML page and a YAML document
            assert response["Content-Type"].startswith("application/json"), url


def test_the_root_describes_itself(api_client):
    page = _html(api_client, "/api/")

    assert "The default basic root view for DefaultRouter" not in page
    assert "Every route group of the API" in page


# --- its forms, as rendered and as sent ---------------------------------------------


def _form(data: dict) -> dict:
    """A form-encoded body, as the browsable API's HTML form sends it."""
    return {"data": urlencode(data), "content_type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("path", "inputs"),
    [
        ("/api/members/", ['name="username"', 'name="password"']),  # the form had only role
        ("/api/imports/", ['name="files" type="file" multiple', 'name="source"']),  # none
    ],
)
def test_a_post_form_has_the_fields_a_post_takes(api_client, path, inputs):
    page = _html(api_client, path)

    assert all(field in page for field in inputs)


@pytest.mark.parametrize(
    ("path", "field", "starts_as", "sent"),
    [
        ("/api/keys/", "allowed_origins", "[]", {"name": "shop", "role": "ingest"}),
        pytest.param(
            "/api/people/", "properties", "{}", {"email": "ann@shop.example"}, marks=pytest.mark.pii
        ),
    ],
)
def test_a_json_field_of_a_form_starts_as_what_it_accepts(api_client, path, field, starts_as, sent):
    page = _html(api_client, path)
    created = api_client.post(path, **_form({**sent, field: starts_as}))

    assert f">{starts_as}</textarea>" in page  # it was null, which the API refuses
    assert created.status_code == 201


@pytest.mark.parametrize("value", [False, True])
def test_a_form_encoded_boolean_is_read(api_client, value):
    sent = api_client.patch("/api/tenant/", **_form({"auto_create_events": str(value).lower()}))

    assert sent.status_code == 200
    assert sent.json()["auto_create_events"] is value


def test_a_json_boolean_is_still_only_true_or_false(api_client):
    sent = api_client.patch("/api/tenant/", {"auto_create_events": "false"}, format="json")

    assert sent.status_code == 400
    assert sent.json() == {"auto_create_events": ["Must be true or false."]}
