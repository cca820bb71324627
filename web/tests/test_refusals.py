"""Pages refusing a dashboard form say what refused it: the role, the team rule, or a
blocked tenant, each under its own title."""

import re

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _title_and_heading(html: str) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    return title.strip(), re.sub(r"<[^>]+>", "", heading).strip()  # its text (names in <bdi>)


def _assert_refused(response, status: int, what: str) -> None:
    """A refusal page titled and headed `what`, and never called a blocked tenant."""
    title, heading = _title_and_heading(response.content.decode())
    assert response.status_code == status
    assert title.startswith(what)
    assert heading == what
    assert "blocked" not in response.content.decode()


@pytest.fixture
def viewer_browser(tenant) -> Client:
    browser = Client()
    browser.force_login(UserFactory(tenant=tenant, role="viewer"))
    return browser


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/dashboard/keys/", {"name": "k", "role": "ingest"}),
        ("/dashboard/members/", {"username": "z", "password": "a-long-Passphrase-42"}),
    ],
)
def test_a_viewers_refusal_is_titled_for_the_role(viewer_browser, url, data):
    _assert_refused(viewer_browser.post(url, data), 403, "Not allowed for your role")


def test_removing_the_last_owner_is_titled_for_the_rule(web_client, user):
    response = web_client.post(f"/dashboard/members/{user.pk}/remove/")

    _assert_refused(response, 400, "A tenant keeps at least one owner")


def test_a_blocked_tenant_is_still_titled_blocked(web_client, tenant):
    tenant.is_active = False
    tenant.save()

    response = web_client.post("/dashboard/keys/", {"name": "k", "role": "ingest"})

    assert response.status_code == 403
    assert _title_and_heading(response.content.decode())[1] == f"{tenant.name} is blocked"
