"""/auth/users/…: djoser's account routes as this service exposes them. No email is
ever sent, so the routes that work by email are not routes here; and a tenant's last
active owner cannot delete their account."""

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from accounts.services import LAST_OWNER
from accounts.tests.factories import UserFactory
from conftest import client_for

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-Passphrase-42"

EMAIL_ROUTES = [
    "/auth/users/reset_password/",
    "/auth/users/reset_password_confirm/",
    "/auth/users/reset_username/",
    "/auth/users/reset_username_confirm/",
    "/auth/users/activation/",
    "/auth/users/resend_activation/",
]


@pytest.mark.parametrize("route", EMAIL_ROUTES)
@pytest.mark.parametrize("email", ["known@shop.example", "unknown@shop.example"])
def test_routes_that_send_email_do_not_exist(anon_client, route, email):
    UserFactory(email="known@shop.example")

    response = anon_client.post(route, {"email": email}, format="json")

    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


@pytest.mark.parametrize("route", EMAIL_ROUTES)
def test_routes_that_send_email_do_not_exist_for_users_either(api_client, route):
    assert api_client.post(route, {}, format="json").status_code == 404


def test_the_account_routes_that_stay_work(anon_client):
    created = anon_client.post("/auth/users/", {"username": "ann", "password": PASSWORD})
    ann = User.objects.get(username="ann")
    client = client_for(ann)

    changed = client.post(
        "/auth/users/set_password/",
        {"current_password": PASSWORD, "new_password": "another-Passphrase-43"},
        format="json",
    )

    assert created.status_code == 201
    assert changed.status_code == 204
    assert client.get("/auth/users/me").status_code == 401  # a new password logs out
    assert client_for(ann).get("/auth/users/me").json()["username"] == "ann"


def test_the_last_owner_cannot_delete_their_account(user):
    user.set_password(PASSWORD)
    user.save()
    api_client = client_for(user)  # a new password revoked the earlier tokens

    response = api_client.delete("/auth/users/me/", {"current_password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_OWNER}
    assert User.objects.filter(pk=user.pk, is_active=True).exists()
    assert api_client.get("/auth/users/me/").status_code == 200  # still logged in


def test_an_owner_who_is_not_the_last_may_delete_their_account(user, tenant):
    UserFactory(tenant=tenant, role="owner", username="olga")
    user.set_password(PASSWORD)
    user.save()
    api_client = client_for(user)  # a new password revoked the earlier tokens

    response = api_client.delete("/auth/users/me/", {"current_password": PASSWORD}, format="json")

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()


def test_a_member_may_delete_their_account(user, tenant):
    mia = UserFactory(tenant=tenant, role="member", username="mia")
    mia.set_password(PASSWORD)
    mia.save()

    response = client_for(mia).delete(
        "/auth/users/me/", {"current_password": PASSWORD}, format="json"
    )

    assert response.status_code == 204
    assert not User.objects.filter(pk=mia.pk).exists()


def _staff(*permissions: str) -> User:
    """A staff member with these of the admin's permissions on users (view, change…)."""
    staff = UserFactory(is_staff=True)
    staff.set_password(PASSWORD)
    staff.save()
    for needed in permissions:
        staff.user_permissions.add(Permission.objects.get(codename=f"{needed}_user"))
    return User.objects.get(pk=staff.pk)  # its permissions are cached per instance


def test_staff_cannot_delete_a_tenants_last_owner_either(other_user):
    staff = _staff("delete")

    response = client_for(staff).delete(
        f"/auth/users/{other_user.pk}/", {"current_password": PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_OWNER}
    assert User.objects.filter(pk=other_user.pk).exists()


@pytest.mark.parametrize("field", ["is_staff", "tenant", "role"])
def test_sign_up_refuses_an_unknown_field(anon_client, field):
    body = {"username": "ann", "password": PASSWORD, field: "owner"}

    response = anon_client.post("/auth/users/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {field: ["Unknown field."]}
    assert not User.objects.filter(username="ann").exists()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("is_staff", "Unknown field."),
        (
            "username",
            "Cannot be changed here: only the email can (the username with set_username).",
        ),
    ],
)
def test_changing_ones_account_refuses_what_it_cannot_change(api_client, user, field, message):
    response = api_client.patch("/auth/users/me/", {field: "true"}, format="json")

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    user.refresh_from_db()
    assert (user.is_staff, user.username) == (False, user.username)


def test_set_username_refuses_an_unknown_field(user):
    body = {"new_username": "ann", "current_password": "alpine12", "is_staff": True}

    response = client_for(user).post("/auth/users/set_username/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"is_staff": ["Unknown field."]}
    user.refresh_from_db()
    assert user.username != "ann"


@pytest.mark.parametrize("path", ["/auth/users/me/", "/auth/users/"])
def test_options_on_the_account_routes_describe_them(api_client, path):
    response = api_client.options(path)

    assert response.status_code == 200  # /me/ was a 500: DRF looked the user up by id
    assert response.json()["name"]


def test_staff_search_and_page_through_the_users_in_a_stable_order(admin_client, user, other_user):
    staff = admin_client

    everyone = staff.get("/auth/users/?limit=100").json()
    found = staff.get(f"/auth/users/?search={other_user.username}").json()

    ids = [row["id"] for row in everyone]
    assert ids == sorted(ids)
    assert {user.pk, other_user.pk} <= set(ids)
    assert [row["username"] for row in found] == [other_user.username]


@pytest.mark.parametrize(
    ("permissions", "listed", "read", "changed", "deleted"),
    [
        ((), False, 404, 404, 404),  # is_staff alone: the admin shows them nothing either
        (("view",), True, 200, 404, 404),  # a refusal here is djoser's 404 (HIDE_USERS)
        (("change",), True, 200, 200, 404),
        (("delete",), False, 404, 404, 204),
    ],
)
def test_staff_reach_others_accounts_with_the_admins_permissions(
    user, other_user, permissions, listed, read, changed, deleted
):
    """djoser's let any staff member read every account, change its email or delete it."""
    other = UserFactory(tenant=other_user.tenant, role=User.Role.MEMBER)
    staff = client_for(_staff(*permissions))
    url = f"/auth/users/{other.pk}/"

    ids = {row["id"] for row in staff.get("/auth/users/?limit=100").json()}
    answers = (
        staff.get(url).status_code,
        staff.patch(url, {"email": "new@example.com"}, format="json").status_code,
        staff.delete(url, {"current_password": PASSWORD}, format="json").status_code,
    )

    assert (other.pk in ids) == listed
    assert answers == (read, changed, deleted)
    other_email = User.objects.filter(pk=other.pk).values_list("email", flat=True).first()
    assert (other_email == "new@example.com") == (changed == 200)


def test_a_users_list_is_only_themselves(api_client, user, other_user):
    assert [row["id"] for row in api_client.get("/auth/users/").json()] == [user.pk]


def _responses(schema: dict, path: str, method: str) -> dict:
    return schema["paths"][path][method]["responses"]


def test_the_schema_shows_what_login_answers(anon_client, user):
    schema = anon_client.get("/api/schema/?format=json").json()

    answer = anon_client.post(
        "/auth/token/login/", {"username": user.username, "password": "alpine12"}, format="json"
    )

    # djoser's TokenSerializer, not the request's username and password.
    ok = _responses(schema, "/auth/token/login/", "post")["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    token = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert answer.status_code == 200
    assert set(answer.json()) == set(token["properties"]) == set(token["required"])
    logout = _responses(schema, "/auth/token/logout/", "post")
    assert "content" not in logout["204"]
    assert not {"200", "201"} & set(logout)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("set_password", {"current_password": "alpine12", "new_password": PASSWORD}),
        ("set_username", {"current_password": "alpine12", "new_username": "renamed"}),
    ],
)
def test_the_schema_shows_the_204_of_set_password_and_set_username(anon_client, user, action, body):
    responses = _responses(
        anon_client.get("/api/schema/?format=json").json(), f"/auth/users/{action}/", "post"
    )

    answer = client_for(user).post(f"/auth/users/{action}/", body, format="json")

    assert answer.status_code == 204
    assert answer.content == b""
    assert "content" not in responses["204"]
    assert not {"200", "201"} & set(responses)


def test_the_schema_shows_what_me_answers(anon_client, user, tenant):
    UserFactory(tenant=tenant, role="owner", username="olga")  # user is not the last owner
    schema = anon_client.get("/api/schema/?format=json").json()
    client = client_for(user)

    changed = client.patch("/auth/users/me/", {"email": "new@shop.example"}, format="json")
    replaced = client.put("/auth/users/me/", {"email": ""}, format="json")
    deleted = client.delete("/auth/users/me/", {"current_password": "alpine12"}, format="json")

    current_user = schema["components"]["schemas"]["CurrentUser"]
    for method, answer in (("patch", changed), ("put", replaced)):
        ok = _responses(schema, "/auth/users/me/", method)["200"]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/CurrentUser")
        assert answer.status_code == 200
        assert set(answer.json()) == set(current_user["properties"])
    assert deleted.status_code == 204
    assert "content" not in _responses(schema, "/auth/users/me/", "delete")["204"]
