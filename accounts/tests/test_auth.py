"""Sign-up, token login and the 401/403 rules of DESIGN.md §2."""

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthToken, Tenant, User
from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from events.models import EventLog


@pytest.mark.django_db
def test_signup_creates_user_with_own_tenant(anon_client):
    response = anon_client.post(
        "/auth/users/", {"username": "djoser", "password": "alpine12"}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json() == {"email": "", "username": "djoser", "id": response.json()["id"]}
    user = User.objects.get(username="djoser")
    assert user.tenant.name == "djoser"
    assert user.tenant.is_active
    assert Tenant.objects.count() == 1


@pytest.mark.django_db
def test_two_signups_get_two_tenants(anon_client):
    for name in ("alice", "bob"):
        anon_client.post("/auth/users/", {"username": name, "password": "alpine12"})

    alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
    assert alice.tenant_id != bob.tenant_id
    assert alice.tenant.slug != bob.tenant.slug


@pytest.mark.django_db
def test_token_login_me_and_logout(anon_client):
    UserFactory(username="djoser")

    login = anon_client.post("/auth/token/login/", {"username": "djoser", "password": "alpine12"})
    token = login.json()["auth_token"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = anon_client.get("/auth/users/me/")
    logout = anon_client.post("/auth/token/logout/")

    assert login.status_code == 200
    assert me.status_code == 200
    assert me.json()["username"] == "djoser"
    assert list(me.json()) == ["email", "username", "id"]  # seed 001's order
    assert logout.status_code == 204
    assert not AuthToken.objects.filter(digest=AuthToken.digest_of(token)).exists()
    assert anon_client.get("/auth/users/me/").status_code == 401


@pytest.mark.django_db
def test_wrong_password_is_400_json(anon_client):
    UserFactory(username="djoser")

    response = anon_client.post("/auth/token/login/", {"username": "djoser", "password": "nope"})

    assert response.status_code == 400
    assert "non_field_errors" in response.json()


@pytest.mark.parametrize("header", [None, "Token nosuchtoken", "Token", "Bearer abc"])
@pytest.mark.django_db
def test_missing_or_bad_credential_is_401_with_challenge(anon_client, header):
    if header:
        anon_client.credentials(HTTP_AUTHORIZATION=header)

    response = anon_client.get("/api/events/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "url", ["/api/events/", "/api/eventlogs/", "/api/stats/event_trend", "/auth/users/me/"]
)
@pytest.mark.django_db
def test_blocked_tenant_gets_403_everywhere(api_client, tenant, url):
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)

    response = api_client.get(url)

    assert response.status_code == 403
    assert "blocked" in response.json()["detail"]


@pytest.mark.django_db
def test_blocked_tenant_cannot_ingest(api_client, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)

    response = api_client.post("/api/eventlogs/", {"event_name": "x"}, format="json")

    assert response.status_code == 403
    assert not tenant.events.exists()


@pytest.mark.django_db
def test_blocked_tenant_can_still_log_in(anon_client, user):
    Tenant.objects.filter(pk=user.tenant_id).update(is_active=False)

    response = anon_client.post(
        "/auth/token/login/", {"username": user.username, "password": "alpine12"}
    )

    assert response.status_code == 200


@pytest.mark.django_db
def test_session_login_serves_browsable_api(client, user):
    assert client.login(username=user.username, password="alpine12")

    response = client.get("/api/events/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Event List" in response.content


@pytest.mark.django_db
def test_create_superuser_gets_a_tenant():
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")

    assert admin.is_staff
    assert admin.tenant.name == "root"


def test_deleting_ones_account_keeps_the_events_one_sent(api_client, user, tenant):
    # The logs stay, no longer naming the user: on a database sharded by tenant that is
    # an update of every shard followed by the delete of a reference table's row.
    assert api_client.post("/api/eventlogs/", {"event_name": "signup"}).status_code == 201
    UserFactory(tenant=tenant, role="owner")  # the last owner may not leave

    response = api_client.delete("/auth/users/me/", {"current_password": "alpine12"})

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    logs = EventLog.objects.filter(tenant=tenant)
    assert [log.created_by_id for log in logs] == [None]


@pytest.mark.parametrize(
    ("headers", "query", "named"),
    [
        (
            {"X-Api-Key": "{theirs}", "Authorization": "Token {token}"},
            "",
            "Authorization: Token and X-Api-Key",
        ),
        (
            {"X-Api-Key": "{theirs}", "Authorization": "Api-Key {mine}"},
            "",
            "Authorization: Api-Key and X-Api-Key",
        ),
        ({"Authorization": "Token {token}"}, "?key={theirs}", "Authorization: Token and ?key="),
        ({"X-Api-Key": "{mine}"}, "?key={theirs}", "X-Api-Key and ?key="),
        # Two headers of one name, as gunicorn hands them on: joined with a comma.
        (
            {"Authorization": "Token {token},Api-Key {theirs}"},
            "",
            "Authorization: Token and Authorization: Api-Key",
        ),
        (
            {"Authorization": "Api-Key {mine}, Token {token}"},
            "",
            "Authorization: Api-Key and Authorization: Token",
        ),
        ({"X-Api-Key": "{mine},{theirs}"}, "", "X-Api-Key and X-Api-Key"),
    ],
)
@pytest.mark.parametrize("url", ["/api/events/", "/api/eventlogs/", "/auth/users/me/"])
@pytest.mark.django_db
def test_two_credentials_are_a_400_naming_both(user, other_tenant, headers, query, named, url):
    """They may be of two tenants: answering as either would be a guess."""
    _, token = AuthToken.objects.create_token(user)
    secrets = {
        "token": token,
        "mine": api_key_create(tenant=user.tenant, name="k", role="admin")[1],
        "theirs": api_key_create(tenant=other_tenant, name="k", role="ingest")[1],
    }
    client = APIClient()
    sent = {name: value.format(**secrets) for name, value in headers.items()}

    if url == "/api/eventlogs/":
        response = client.post(
            url + query.format(**secrets), {"event_name": "x"}, format="json", headers=sent
        )
    else:
        response = client.get(url + query.format(**secrets), headers=sent)

    assert response.status_code == 400
    assert response.json() == {"detail": f"Send one credential: this request carries {named}."}
    assert not EventLog.objects.exists()


@pytest.mark.parametrize(
    "keys", [("mine", "theirs"), ("bogus", "mine"), ("mine", "bogus"), ("mine", "mine")]
)
@pytest.mark.parametrize(
    "path",
    ["/api/eventlogs/", "/api/eventlogs/batch/", "/shop/e", "/api/v1/events/signup"],
)
@pytest.mark.django_db
def test_a_repeated_key_in_the_url_is_a_400_on_every_ingestion_route(
    user, other_tenant, keys, path
):
    """Parameter pollution: neither the first nor the last ?key= is chosen, even when
    the other is bogus (a valid key then no longer decides whether the request passes)."""
    secrets = {
        "mine": api_key_create(tenant=user.tenant, name="k", role="ingest")[1],
        "theirs": api_key_create(tenant=other_tenant, name="k", role="ingest")[1],
        "bogus": "et_bogusprefix_" + "B" * 40,
    }
    first, second = (secrets[name] for name in keys)
    body = (
        '{"events": [{"event_name": "x"}]}'
        if path in ("/api/eventlogs/batch/", "/shop/e")
        else '{"event_name": "x"}'
    )

    response = APIClient().post(f"{path}?key={first}&key={second}", body, content_type="text/plain")

    assert response.status_code == 400
    assert response.json() == {"detail": "Send one credential: this request carries ?key= 2 times."}
    assert not EventLog.objects.exists()


@pytest.mark.parametrize("missing", ["username", "password"])
@pytest.mark.django_db
def test_a_login_without_username_or_password_is_a_400_naming_it(anon_client, missing):
    UserFactory(username="djoser")
    body = {"username": "djoser", "password": "alpine12"}
    del body[missing]

    response = anon_client.post("/auth/token/login/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}


@pytest.mark.django_db
def test_a_login_with_an_unknown_field_is_a_400_naming_it(anon_client):
    UserFactory(username="djoser")
    body = {"username": "djoser", "password": "alpine12", "otp": "123456"}

    response = anon_client.post("/auth/token/login/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"otp": ["Unknown field."]}
