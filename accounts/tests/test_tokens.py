"""Login tokens are stored hashed, one per login; a user lists and revokes their own;
logging out revokes only the token it is sent with; clear tokens are moved over."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import AuthToken
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "alpine12"  # the factory's
TOKENS = "/api/tokens/"


def _login(username: str) -> str:
    response = APIClient().post("/auth/token/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()["auth_token"]


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_only_a_hash_of_the_key_is_stored():
    user = UserFactory(username="shop")

    key = _login("shop")

    (token,) = AuthToken.objects.filter(user=user)
    stored = [str(value) for value in AuthToken.objects.filter(pk=token.pk).values().get().values()]
    assert len(key) == 40
    assert key not in " ".join(stored)
    assert token.digest == AuthToken.digest_of(key)
    assert token.prefix == key[:8]


def test_each_login_is_a_token_of_its_own_and_all_work():
    UserFactory(username="shop")

    phone, laptop = _login("shop"), _login("shop")

    assert phone != laptop
    assert _client(phone).get("/api/events/").status_code == 200
    assert _client(laptop).get("/api/events/").status_code == 200


def test_a_user_lists_their_tokens_without_keys_and_sees_which_is_current():
    UserFactory(username="shop")
    UserFactory(username="other")
    first, second = _login("shop"), _login("shop")
    _login("other")

    listed = _client(second).get(TOKENS).json()

    assert [row["prefix"] for row in listed] == [second[:8], first[:8]]  # newest first
    assert [row["current"] for row in listed] == [True, False]
    assert set(listed[0]) == {"id", "prefix", "created_at", "last_used_at", "current"}
    assert first not in str(listed)
    assert second not in str(listed)


def test_revoking_one_token_ends_it_at_once_and_keeps_the_others():
    UserFactory(username="shop")
    lost, kept = _login("shop"), _login("shop")
    lost_client, kept_client = _client(lost), _client(kept)
    assert lost_client.get("/api/events/").status_code == 200  # cached in this process
    lost_id = next(row["id"] for row in kept_client.get(TOKENS).json() if not row["current"])

    assert kept_client.delete(f"{TOKENS}{lost_id}/").status_code == 204

    assert lost_client.get("/api/events/").status_code == 401
    assert kept_client.get("/api/events/").status_code == 200


def test_another_users_token_is_a_404_and_untouched():
    UserFactory(username="shop")
    UserFactory(username="other")
    mine, theirs = _login("shop"), _login("other")
    their_id = _client(theirs).get(TOKENS).json()[0]["id"]

    response = _client(mine).delete(f"{TOKENS}{their_id}/")

    assert response.status_code == 404
    assert _client(theirs).get("/api/events/").status_code == 200


def test_logging_out_revokes_only_the_token_it_is_sent_with():
    UserFactory(username="shop")
    phone, laptop = _login("shop"), _login("shop")

    assert _client(phone).post("/auth/token/logout/").status_code == 204

    assert _client(phone).get("/api/events/").status_code == 401
    assert _client(laptop).get("/api/events/").status_code == 200


def test_api_keys_cannot_manage_tokens(key_client):
    assert key_client("admin").get(TOKENS).status_code == 403


def test_the_admin_shows_a_prefix_never_a_key(client):
    from accounts.models import User

    admin = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    key = _login("root")
    client.force_login(admin)

    page = client.get("/admin/accounts/authtoken/").content.decode()

    assert key[:8] in page
    assert key not in page
    assert client.get("/admin/accounts/authtoken/add/").status_code == 403


def test_clear_tokens_of_the_old_table_are_moved_over_as_hashes():
    user = UserFactory(username="shop")
    legacy_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "user_id bigint NOT NULL, created timestamp with time zone NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)",
            [legacy_key, user.pk, "2025-01-02 03:04:05+00:00"],
        )
    migration = importlib.import_module("accounts.migrations.0008_authtoken")

    # The function reads only the editor's connection (a schema editor cannot open inside
    # the test's transaction on SQLite).
    migration.move_legacy_tokens(apps, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)  # no key left in clear
    token = AuthToken.objects.get(user=user)
    assert token.created_at.year == 2025
    assert _client(legacy_key).get("/api/events/").status_code == 200  # still logged in


@pytest.mark.parametrize("route", ["api", "shell"])
def test_a_new_password_revokes_every_login_token(route):
    """Through `POST /auth/users/set_password/` (the token that sent it too) or set by
    the operator (`manage.py changepassword`, the admin: set_password and save)."""
    user = UserFactory(username="shop")
    phone, laptop = _login("shop"), _login("shop")

    if route == "api":
        body = {"current_password": PASSWORD, "new_password": "NewPass-9876"}
        response = _client(phone).post("/auth/users/set_password/", body, format="json")
        assert response.status_code == 204
    else:
        user.set_password("NewPass-9876")
        user.save()

    assert _client(phone).get("/api/events/").status_code == 401
    assert _client(laptop).get("/api/events/").status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()
    login = {"username": "shop", "password": "NewPass-9876"}
    assert APIClient().post("/auth/token/login/", login).status_code == 200


class QuickPBKDF2(PBKDF2PasswordHasher):
    iterations = 1


def test_a_login_that_upgrades_the_password_hash_revokes_nothing(settings):
    """Django rehashes a password with the preferred hasher as it logs in: the same
    password, so the other logins stay."""
    user = UserFactory(username="shop")
    phone = _login("shop")
    settings.PASSWORD_HASHERS = [
        f"{__name__}.QuickPBKDF2",  # now preferred: the login rehashes with it
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    _login("shop")

    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$1$")
    assert _client(phone).get("/api/events/").status_code == 200


def test_a_new_token_is_last_used_as_it_is_made():
    """Logging in is a use: at the instant the token is made, not a moment before it."""
    user = UserFactory(username="shop")
    _login("shop")

    token = AuthToken.objects.get(user=user)

    assert token.last_used_at == token.created_at
