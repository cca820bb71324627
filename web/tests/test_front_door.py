"""The front door (/) and web sign-up (/dashboard/signup/)."""

import pytest
from django.test import Client

from accounts.models import Tenant, User
from web.tests.markup import parse
from web.tests.test_accessibility import assert_accessible

pytestmark = pytest.mark.django_db
SIGNUP = "/dashboard/signup/"
GOOD = {
    "username": "shop-owner",
    "email": "owner@shop.example",
    "password": "a-long-Passphrase-42",
    "password_again": "a-long-Passphrase-42",
}


@pytest.mark.parametrize("debug", [False, True])
def test_the_front_door_says_what_this_is_and_where_to_go(client, settings, debug):
    settings.DEBUG = debug  # it was a DEBUG "Page not found" listing URL patterns

    response = client.get("/")

    assert response.status_code == 200
    page = parse(response)
    links = {a.get("href") for a in page.all("a")}
    assert {"/dashboard/signup/", "/dashboard/login/", "/api/docs/", "/api/"} <= links
    assert_accessible(page)


def test_the_front_door_sends_a_logged_in_user_to_the_dashboard(web_client, tenant):
    page = parse(web_client.get("/"))

    assert "/dashboard/" in {a.get("href") for a in page.all("a")}
    assert "/dashboard/signup/" not in {a.get("href") for a in page.all("a")}


def test_sign_up_creates_a_user_with_a_tenant_of_its_own_and_logs_in(client):
    response = client.post(SIGNUP, GOOD)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    user = User.objects.get(username="shop-owner")
    assert user.email == "owner@shop.example"
    assert user.tenant.users.count() == 1
    assert client.get("/dashboard/").status_code == 200  # the session is logged in
    assert user.check_password(GOOD["password"])


def test_each_sign_up_gets_its_own_tenant(client, tenant):
    client.post(SIGNUP, GOOD)

    assert Tenant.objects.count() == 2
    assert User.objects.get(username="shop-owner").tenant != tenant


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password_again": "something-else-42"}, "password_again"),
        ({"password": "123", "password_again": "123"}, "password"),  # too short, numeric
        ({"password": "password", "password_again": "password"}, "password"),  # common
        ({"username": ""}, "username"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_a_bad_sign_up_shows_why_and_creates_nothing(client, change, field):
    response = client.post(SIGNUP, {**GOOD, **change})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not User.objects.filter(username=GOOD["username"]).exists()
    assert Tenant.objects.count() == 0
    assert_accessible(parse(response))


def test_a_taken_username_is_refused(client, user):
    response = client.post(SIGNUP, {**GOOD, "username": user.username})

    assert response.status_code == 400
    assert "username" in response.context["form"].errors
    assert User.objects.filter(username=user.username).count() == 1


def test_the_empty_sign_up_form_is_no_error(client):
    response = client.get(SIGNUP)

    assert response.status_code == 200
    assert not response.context["form"].errors


def test_sign_up_needs_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)

    assert browser.post(SIGNUP, GOOD).status_code == 403
    assert not User.objects.filter(username=GOOD["username"]).exists()


def test_a_logged_in_user_is_sent_to_the_dashboard(web_client):
    response = web_client.get(SIGNUP)

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_a_sign_up_shows_every_reason_at_once(client, user):
    """A bad email hid the taken username, the weak password and the differing second
    password until it was fixed: one reason per submit."""
    refused = {
        "username": user.username,
        "email": "not-an-email",
        "password": "123",
        "password_again": "124",
    }

    response = client.post(SIGNUP, refused)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"username", "email", "password", "password_again"}
    assert errors["password_again"] == ["The two passwords differ."]
    assert len(errors["email"]) == 1
    html = response.content.decode()
    assert "A user with that username already exists." in html
    assert "This password is too short." in html
    assert Tenant.objects.count() == 1  # the user's only
