"""Errors at the addresses of pages are pages (web.errors): `/`, /dashboard/, /demo/ and
/share/<token>; every other address keeps its JSON error."""

import pytest

from insights.models import Dashboard

pytestmark = pytest.mark.django_db


def _assert_page(response, status: int, title: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f"<title>{title} · eventtracker</title>" in response.content.decode()


@pytest.mark.parametrize(
    "path", ["/dashboard/boards/999/", "/dashboard/no-such-page/", "/dashboard/keys/9/nothing/"]
)
def test_an_unknown_dashboard_address_is_a_404_page(web_client, path):
    _assert_page(web_client.get(path), 404, "Page not found")


def test_another_tenants_board_is_the_same_404_page(web_client, other_tenant):
    theirs = Dashboard.objects.create(tenant=other_tenant, name="Theirs")

    response = web_client.get(f"/dashboard/boards/{theirs.pk}/")

    _assert_page(response, 404, "Page not found")
    assert "Theirs" not in response.content.decode()


def test_the_demo_when_off_is_a_404_page(web_client, settings):
    settings.DEBUG = False

    _assert_page(web_client.get("/demo/"), 404, "Page not found")


def test_an_unknown_shared_link_is_a_404_page(client):
    _assert_page(client.get("/share/no-such-token"), 404, "Page not found")


def test_a_json_client_at_a_pages_address_gets_the_page_too(web_client):
    response = web_client.get("/dashboard/boards/999/", HTTP_ACCEPT="application/json")

    _assert_page(response, 404, "Page not found")


@pytest.mark.parametrize(
    "path", ["/api/no-such-route/", "/no-such-route/", "/share/no-such-token/tiles/1.json"]
)
def test_other_addresses_keep_their_json_404(web_client, path):
    response = web_client.get(path)

    assert response.status_code == 404
    assert response.json()["detail"]


def test_logging_out_by_address_is_a_405_page(web_client):
    response = web_client.get("/dashboard/logout/")

    _assert_page(response, 405, "Method not allowed")
    assert "Log out with the Log out button" in response.content.decode()
    assert response["Allow"] == "POST, OPTIONS"
    assert web_client.get("/dashboard/").status_code == 200  # still logged in


def test_a_page_that_fails_is_a_500_page_and_an_api_route_a_json_500(web_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("web.views.stats_context", broken)  # what the dashboard calls
    web_client.raise_request_exception = False

    response = web_client.get("/dashboard/")

    _assert_page(response, 500, "Something went wrong")
    assert "boom" not in response.content.decode()
    monkeypatch.setattr("events.views.EventViewSet.list", broken)
    assert web_client.get("/api/events/").json() == {"detail": "Internal server error."}
