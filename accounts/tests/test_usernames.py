"""One rule for a username wherever one is set (sign-up and set_username, /api/members/,
the dashboard's sign-up and team forms): NFKC-normalised as the model stores it, then
checked, so a look-alike of a taken name and a name too long once normalised are a 400
on the username, not a 500 from the database."""

import pytest
from django.test import Client

from accounts.models import User
from accounts.serializers import UsernameField
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-Passphrase-42"
TAKEN = "A user with that username already exists."
TOO_LONG = "Ensure this field has no more than 150 characters."
FULLWIDTH_MIA = "\uff4dia"  # a fullwidth m: NFKC reads it as mia
LONG_LIGATURES = "\ufb03" * 150  # U+FB03: 150 characters, 450 once normalised (ffi)


def _api_sign_up(owner, username: str):
    response = Client().post(
        "/auth/users/",
        {"username": username, "password": PASSWORD},
        content_type="application/json",
    )
    return response.status_code, response.json()


def _api_add_member(owner, username: str):
    browser = Client()
    browser.force_login(owner)
    body = {"username": username, "password": PASSWORD}
    response = browser.post("/api/members/", body, content_type="application/json")
    return response.status_code, response.json()


def _api_set_username(owner, username: str):
    browser = Client()
    browser.force_login(UserFactory(username="renamed", tenant=owner.tenant))
    body = {"new_username": username, "current_password": "alpine12"}
    response = browser.post("/auth/users/set_username/", body, content_type="application/json")
    errors = response.json() if response.status_code == 400 else {}
    return response.status_code, {"username": errors.get("new_username"), **errors}


def _page_sign_up(owner, username: str):
    form = {"username": username, "password": PASSWORD, "password_again": PASSWORD}
    response = Client().post("/dashboard/signup/", form)
    return response.status_code, response.context["form"].errors


def _page_add_member(owner, username: str):
    browser = Client()
    browser.force_login(owner)
    form = {"username": username, "password": PASSWORD, "role": "member"}
    response = browser.post("/dashboard/members/", form)
    return response.status_code, response.context["member_form"].errors


API_PATHS = [_api_sign_up, _api_add_member, _api_set_username]
PAGE_PATHS = [_page_sign_up, _page_add_member]


@pytest.mark.parametrize("set_username", API_PATHS + PAGE_PATHS)
def test_a_look_alike_of_a_taken_name_is_taken(user, set_username):
    UserFactory(username="mia")

    status, errors = set_username(user, FULLWIDTH_MIA)

    assert status == 400
    assert errors["username"] == [TAKEN]
    assert User.objects.filter(username__in=["mia", FULLWIDTH_MIA]).count() == 1


@pytest.fixture
def taken_after_validation(monkeypatch):
    """`racer` is free when the request checks it and taken before the request stores
    it: another request's user, inserted right after the check (as when both checked
    before either stored)."""
    check = UsernameField.run_validators

    def checked_then_taken(self, value):
        check(self, value)
        if value == "racer":
            UserFactory(username="racer")

    monkeypatch.setattr(UsernameField, "run_validators", checked_then_taken)


@pytest.mark.parametrize("set_username", API_PATHS + PAGE_PATHS)
def test_a_name_taken_since_it_was_checked_is_taken(user, set_username, taken_after_validation):
    status, errors = set_username(user, "racer")

    assert status == 400  # was a 500 (set_username, the team form) or djoser's bare 400
    assert errors["username"] == [TAKEN]
    assert User.objects.filter(username="racer").count() == 1


@pytest.mark.parametrize("set_username", API_PATHS)
def test_a_name_too_long_once_normalised_is_a_400_naming_the_username(user, set_username):
    status, errors = set_username(user, LONG_LIGATURES)

    assert status == 400
    assert errors["username"] == [TOO_LONG]
    assert not User.objects.filter(username__startswith="ffi").exists()


@pytest.mark.parametrize("set_username", PAGE_PATHS)
def test_a_name_too_long_once_normalised_is_the_forms_username_error(user, set_username):
    status, errors = set_username(user, LONG_LIGATURES)

    assert status == 400
    assert errors["username"] == ["Ensure this value has at most 150 characters (it has 450)."]
    assert not User.objects.filter(username__startswith="ffi").exists()


@pytest.mark.parametrize("set_username", [_api_sign_up, _api_add_member])
def test_a_look_alike_of_a_free_name_is_stored_normalised(user, set_username):
    status, answer = set_username(user, FULLWIDTH_MIA)

    assert status == 201
    assert answer["username"] == "mia"
    assert User.objects.filter(username="mia").exists()


def test_set_username_stores_the_normalised_name(user):  # a fullwidth a: admin2
    UserFactory(username="admin", is_staff=True)
    browser = Client()
    browser.force_login(user)

    body = {"new_username": "\uff41dmin2", "current_password": "alpine12"}
    response = browser.post("/auth/users/set_username/", body, content_type="application/json")

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.username == "admin2"


def test_set_username_to_a_look_alike_of_the_staff_user_is_refused(user):  # fullwidth a
    UserFactory(username="admin", is_staff=True)
    browser = Client()
    browser.force_login(user)

    body = {"new_username": "\uff41dmin", "current_password": "alpine12"}
    response = browser.post("/auth/users/set_username/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"new_username": [TAKEN]}
    user.refresh_from_db()
    assert user.username != "\uff41dmin"


def test_names_differing_only_in_case_stay_distinct(anon_client):
    UserFactory(username="mia")

    response = anon_client.post("/auth/users/", {"username": "Mia", "password": PASSWORD})

    assert response.status_code == 201
    assert set(User.objects.values_list("username", flat=True)) == {"mia", "Mia"}


def test_a_login_finds_the_user_by_the_normalised_name(anon_client):
    """Signed up as mia with a fullwidth m (stored `mia`), that name logs in, as does
    `mia`: the login normalises the name as sign-up did."""
    assert _api_sign_up(None, FULLWIDTH_MIA)[0] == 201

    for sent in (FULLWIDTH_MIA, "mia"):
        body = {"username": sent, "password": PASSWORD}
        response = anon_client.post("/auth/token/login/", body, format="json")
        assert response.status_code == 200, (sent, response.content)
        assert "auth_token" in response.json()
