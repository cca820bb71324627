"""Every /dashboard/ page of a tenant goes through one gate (web.views.tenant_page): the
login page for anonymous users, the blocked page for a blocked tenant's users, whatever
the page."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from insights.models import Dashboard, Insight

pytestmark = pytest.mark.django_db
# Pages for people without a session yet (or leaving it): nothing of a tenant.
OPEN = {"web-signup", "web-login", "web-logout"}
PAGES = (
    "/dashboard/",
    "/dashboard/web/",
    "/dashboard/query/",
    "/dashboard/funnels/",
    "/dashboard/retention/",
    "/dashboard/boards/",
    "/dashboard/boards/{board}/",
)


def _dashboard_routes(patterns, prefix: str = "") -> list[URLPattern]:
    found = []
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _dashboard_routes(entry.url_patterns, route)
        elif route.startswith("dashboard/") and entry.name not in OPEN:
            found.append(entry)
    return found


def test_every_dashboard_route_is_a_tenant_page():
    routes = _dashboard_routes(get_resolver().url_patterns)

    assert len(routes) >= 10
    unguarded = [route.name for route in routes if not getattr(route.callback, "tenant_page", 0)]
    assert unguarded == []


@pytest.fixture
def board(tenant) -> Dashboard:
    insight = Insight.objects.create(
        tenant=tenant, name="Secret insight", kind="query", definition={"metrics": ["events"]}
    )
    dashboard = Dashboard.objects.create(tenant=tenant, name="Secret board")
    dashboard.tiles.create(tenant=tenant, insight=insight, position=0)
    return dashboard


@pytest.mark.parametrize("path", PAGES)
def test_a_blocked_tenant_sees_the_blocked_page_and_no_data(web_client, tenant, board, path):
    tenant.is_active = False
    tenant.save()

    response = web_client.get(path.format(board=board.pk))

    html = response.content.decode()
    assert response.status_code == 403
    assert "<title>Tenant blocked" in html
    assert "Secret" not in html


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_users_are_sent_to_log_in(client, board, path):
    response = client.get(path.format(board=board.pk))

    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_no_tenant_page_is_kept_by_the_browser(web_client, board, path):
    response = web_client.get(path.format(board=board.pk))

    assert response.status_code == 200
    assert {"no-store", "private"} <= set(response["Cache-Control"].replace(" ", "").split(","))


@pytest.mark.parametrize(
    "path", ["/dashboard/keys/", "/dashboard/members/", "/dashboard/keys/1/revoke/"]
)
def test_a_form_sent_after_logging_out_returns_to_the_dashboard_after_logging_in(
    client, user, path
):
    """Logged out in another tab, then a dashboard form sent: the login page then led to
    the form's POST-only address, a 405 page, instead of back to the dashboard."""
    response = client.post(path, {"name": "k", "role": "read"})

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/login/?next=/dashboard/"
    login = {"username": user.username, "password": "alpine12", "next": "/dashboard/"}
    logged_in = client.post("/dashboard/login/", login, follow=True)
    assert logged_in.redirect_chain[-1] == ("/dashboard/", 302)
    assert logged_in.status_code == 200
