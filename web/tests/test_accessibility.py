"""Accessibility basics of every page: language, landmarks, heading order, a label for
every control, alt text on every image, captioned tables with scoped headers."""

import itertools

import pytest
from django.test import Client

from web.tests.markup import Page, parse

pytestmark = pytest.mark.django_db
CONTROLS = {"input", "select", "textarea"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def assert_accessible(page: Page) -> None:
    assert page.all("html")[0].get("lang") == "en"
    for landmark in ("header", "nav", "main"):
        assert page.all(landmark), landmark
    _assert_headings_in_order(page)
    _assert_every_control_labelled(page)
    for img in page.all("img"):
        assert img.get("alt", "").strip(), img
    _assert_tables_described(page)


def _assert_headings_in_order(page: Page) -> None:
    levels = [HEADINGS[tag] for tag, _ in page.tags if tag in HEADINGS]
    assert levels[0] == 1
    assert levels.count(1) == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, levels


def _assert_every_control_labelled(page: Page) -> None:
    labelled = {label["for"] for label in page.all("label") if label.get("for")}
    for tag, attrs in page.tags:
        if tag in CONTROLS and attrs.get("type") != "hidden":
            assert attrs.get("id") in labelled, (tag, attrs)


def _assert_tables_described(page: Page) -> None:
    tables = page.all("table")
    assert len(page.all("caption")) == len(tables)
    for th in page.all("th"):
        assert th.get("scope") in ("col", "row"), th


def test_the_login_page(client):
    assert_accessible(parse(client.get("/dashboard/login/")))


def test_the_dashboard_with_data_keys_a_new_secret_and_form_errors(web_client, api_client, ingest):
    ingest(api_client, [{"event_name": "signup"}, {"event_name": "x", "count": 0}])
    web_client.post("/dashboard/keys/", {"name": "web", "role": "ingest"})
    shown = parse(web_client.get("/dashboard/"))
    failed = parse(web_client.post("/dashboard/keys/", {"name": "", "role": "ingest"}))
    bad_range = parse(web_client.get("/dashboard/", {"tz": "Nowhere/Land"}))

    for page in (shown, failed, bad_range):
        assert_accessible(page)
    assert len(shown.all("img")) == 4
    assert {"new-key-secret"} <= {i.get("id") for i in shown.all("input")}


def test_the_insight_pages_and_dashboards(web_client, api_client, anon_client, ingest):
    ingest(api_client, [{"event_name": "signup", "distinct_id": "u1"}])
    definition = {"metrics": ["uniques"], "breakdown": ["event"], "date_range": "7d"}
    insight = api_client.post(
        "/api/insights/",
        {"name": "Users", "kind": "query", "definition": definition},
        format="json",
    ).json()
    board = api_client.post(
        "/api/dashboards/", {"name": "Main", "insights": [insight["id"]]}, format="json"
    ).json()
    share = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]

    pages = [
        web_client.get("/dashboard/query/", {"metric": "uniques", "breakdown": "event"}),
        web_client.get("/dashboard/funnels/", {"steps": "signup, buy", "order": "ordered"}),
        web_client.get(
            "/dashboard/retention/", {"cohort": "signup", "period": "day", "periods": 2}
        ),
        web_client.get("/dashboard/query/", {"breakdown": "nope"}),
        web_client.get("/dashboard/boards/"),
        web_client.get(f"/dashboard/boards/{board['id']}/"),
        anon_client.get(share),
    ]

    for response in pages:
        assert_accessible(parse(response))


def test_the_demo_page(settings, web_client):
    settings.DEBUG = True

    assert_accessible(parse(web_client.get("/demo/")))


def test_the_blocked_page(web_client, tenant):
    tenant.is_active = False
    tenant.save()

    assert_accessible(parse(web_client.get("/dashboard/")))


def test_focus_is_visible_in_the_stylesheet():
    response = Client().get("/static/web/web.css")
    css = b"".join(response.streaming_content).decode()

    assert response.status_code == 200
    assert ":focus-visible { outline: 3px solid" in css
