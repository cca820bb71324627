"""API keys: shown once, stored hashed, roles, lifecycle (expiry, revocation, rotation)."""

import datetime as dt
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import authentication
from accounts.models import ApiKey, Tenant, User
from accounts.services import api_key_create
from events.models import EventLog
from events.tests.factories import EventFactory

KEYS = "/api/keys/"


def key_client(secret: str, *, header: str = "x-api-key") -> APIClient:
    client = APIClient()
    if header == "x-api-key":
        client.credentials(HTTP_X_API_KEY=secret)
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.fixture
def make_key(tenant):
    def make(role: str = "admin", **extra) -> tuple[ApiKey, str]:
        return api_key_create(tenant=tenant, name=f"{role} key", role=role, **extra)

    return make


# --- management through the API ----------------------------------------------


def test_create_shows_the_secret_once_and_stores_only_its_hash(api_client, tenant):
    response = api_client.post(KEYS, {"name": "server", "role": "read"}, format="json")

    body = response.json()
    stored = ApiKey.objects.get(pk=body["id"])
    assert response.status_code == 201
    assert body["key"].startswith(f"et_{stored.prefix}_")
    assert stored.hashed_secret == hashlib.sha256(body["key"].encode()).hexdigest()
    assert all(body["key"] != getattr(stored, f.attname) for f in ApiKey._meta.fields)
    listed = api_client.get(KEYS).json()
    assert [row["id"] for row in listed] == [stored.pk]
    assert "key" not in listed[0]
    assert "key" not in api_client.get(f"{KEYS}{stored.pk}").json()
    assert stored.tenant == tenant


def test_secret_has_at_least_190_bits(make_key):
    _, secret = make_key()

    random_part = secret.split("_", 2)[2]  # et_<prefix>_<secret>; the secret may hold "_"
    assert len(random_part) * 6 >= 190  # url-safe base64: 6 bits per character


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "owner"}, "role"),
        ({"role": "read"}, "name"),
        ({"name": "x", "role": "read", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "role": "read", "allowed_origins": "https://a.example"}, "allowed_origins"),
        ({"name": "x", "role": "read", "secret": "mine"}, "secret"),
    ],
)
def test_bad_key_input_is_400(api_client, body, field):
    response = api_client.post(KEYS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_delete_revokes_and_the_key_stops_working(api_client, make_key):
    key, secret = make_key("read")

    response = api_client.delete(f"{KEYS}{key.pk}")

    assert response.status_code == 204
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_client.get(f"{KEYS}{key.pk}").json()["is_usable"] is False
    refused = key_client(secret).get("/api/events/")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "This API key has been revoked."


def test_patch_renames(api_client, make_key):
    key, _ = make_key("read")

    response = api_client.patch(f"{KEYS}{key.pk}", {"name": "renamed"}, format="json")

    key.refresh_from_db()
    assert response.status_code == 200
    assert (key.name, key.role) == ("renamed", "read")


def test_a_role_change_is_a_400_naming_role(api_client, make_key):
    key, _ = make_key("read")

    response = api_client.patch(
        f"{KEYS}{key.pk}", {"name": "renamed", "role": "admin"}, format="json"
    )

    key.refresh_from_db()
    assert response.status_code == 400
    assert list(response.json()) == ["role"]
    assert "create a new key" in response.json()["role"][0]
    assert (key.name, key.role) == ("read key", "read")


def test_a_put_may_repeat_the_role(api_client, make_key):
    key, _ = make_key("read")

    response = api_client.put(f"{KEYS}{key.pk}", {"name": "again", "role": "read"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "again"


@pytest.mark.parametrize(
    "body",
    [{"prefix": "abc"}, {"revoked_at": None}, {"is_usable": True}, {"created_at": "2030-01-01"}],
)
def test_read_only_fields_sent_are_a_400_naming_them(api_client, make_key, body):
    key, _ = make_key("read")

    response = api_client.patch(f"{KEYS}{key.pk}", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == set(body)


def test_rotation_with_grace_keeps_the_old_key_working_until_it_ends(api_client, make_key):
    old, old_secret = make_key("read", allowed_origins=["https://a.example"])

    response = api_client.post(f"{KEYS}{old.pk}/rotate", {"grace_seconds": 3600}, format="json")

    new = ApiKey.objects.get(pk=response.json()["id"])
    old.refresh_from_db()
    assert response.status_code == 201
    assert (new.name, new.role, new.allowed_origins) == (old.name, old.role, old.allowed_origins)
    assert old.replaced_by == new
    assert old.revoked_at is None
    assert timezone.now() + dt.timedelta(minutes=59) < old.expires_at
    assert key_client(old_secret).get("/api/events/").status_code == 200
    assert key_client(response.json()["key"]).get("/api/events/").status_code == 200
    old.expires_at = timezone.now() - dt.timedelta(seconds=1)
    old.save(update_fields=["expires_at"])  # as the admin or a later rotation would
    assert key_client(old_secret).get("/api/events/").json()["detail"] == (
        "This API key has expired."
    )


def test_rotation_without_grace_revokes_the_old_key_at_once(api_client, make_key):
    old, old_secret = make_key("read")

    response = api_client.post(f"{KEYS}{old.pk}/rotate/", {}, format="json")

    assert response.status_code == 201
    assert key_client(old_secret).get("/api/events/").status_code == 401
    assert key_client(response.json()["key"]).get("/api/events/").status_code == 200


def test_a_key_already_rotated_is_not_rotated_again(api_client, make_key):
    """A second rotation would copy the old key's expiry, by then the grace's end: its
    successor would die with it (with a short grace, be born unusable)."""
    expiry = timezone.now() + dt.timedelta(days=30)
    old, _ = make_key("read", expires_at=expiry)
    first = api_client.post(f"{KEYS}{old.pk}/rotate", {"grace_seconds": 3}, format="json")

    again = api_client.post(f"{KEYS}{old.pk}/rotate", {"grace_seconds": 3}, format="json")

    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"This key was already rotated into key {first.json()['id']}: rotate that one instead."
    )
    assert ApiKey.objects.count() == 2
    successor = ApiKey.objects.get(pk=first.json()["id"])
    assert successor.expires_at == expiry  # the key's own expiry, not the grace's end
    # Its successor rotates as any key does, into one with that expiry again.
    third = api_client.post(f"{KEYS}{successor.pk}/rotate", {"grace_seconds": 3}, format="json")
    assert third.status_code == 201
    assert ApiKey.objects.get(pk=third.json()["id"]).expires_at == expiry


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        ("revoked", "This key is revoked: create a new key instead."),
        ("expired", "This key has expired: create a new key instead."),
        ("rotated without grace", "This key was already rotated into key"),
    ],
)
def test_a_revoked_or_expired_key_is_not_rotated(api_client, make_key, state, detail):
    key, secret = make_key("read")
    if state == "revoked":
        assert api_client.delete(f"{KEYS}{key.pk}").status_code == 204
    elif state == "expired":
        key.expires_at = timezone.now() - dt.timedelta(seconds=1)
        key.save(update_fields=["expires_at"])
    else:
        assert api_client.post(f"{KEYS}{key.pk}/rotate", {}, format="json").status_code == 201
    before = ApiKey.objects.get(pk=key.pk)

    response = api_client.post(f"{KEYS}{key.pk}/rotate", {"grace_seconds": 60}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"].startswith(detail)
    after = ApiKey.objects.get(pk=key.pk)
    assert (after.revoked_at, after.expires_at, after.replaced_by_id) == (
        before.revoked_at,
        before.expires_at,
        before.replaced_by_id,
    )
    assert ApiKey.objects.count() == (2 if state == "rotated without grace" else 1)
    assert key_client(secret).get("/api/events/").status_code == 401


@pytest.mark.parametrize("expires_at", ["in 3 days", None])
def test_a_rotated_keys_grace_cannot_be_extended_by_a_patch(api_client, make_key, expires_at):
    """The old key of a rotation lives for its grace (at most 7 days): a PATCH moving its
    expiry later, or to never, would keep a replaced secret working for ever."""
    old, _ = make_key("read")
    rotated = api_client.post(f"{KEYS}{old.pk}/rotate", {"grace_seconds": 60}, format="json")
    grace_end = ApiKey.objects.get(pk=old.pk).expires_at
    later = (timezone.now() + dt.timedelta(days=3)).isoformat() if expires_at else None

    response = api_client.patch(f"{KEYS}{old.pk}", {"expires_at": later}, format="json")

    assert rotated.status_code == 201
    assert response.status_code == 400
    assert response.json()["expires_at"] == [
        f"This key was rotated into key {rotated.json()['id']}: its grace ends at "
        f"{grace_end.isoformat()} and cannot be extended (revoke it to end it now)."
    ]
    assert ApiKey.objects.get(pk=old.pk).expires_at == grace_end


def test_a_rotated_keys_grace_may_be_shortened_and_its_name_changed(api_client, make_key):
    old, _ = make_key("read")
    rotated = api_client.post(f"{KEYS}{old.pk}/rotate", {"grace_seconds": 3600}, format="json")
    assert rotated.status_code == 201
    sooner = timezone.now() + dt.timedelta(minutes=5)

    response = api_client.patch(
        f"{KEYS}{old.pk}", {"expires_at": sooner.isoformat(), "name": "old"}, format="json"
    )

    assert response.status_code == 200
    assert ApiKey.objects.get(pk=old.pk).expires_at == sooner
    assert api_client.patch(f"{KEYS}{old.pk}", {"name": "x"}, format="json").status_code == 200


def test_an_expired_key_is_not_revived_by_a_patch(api_client, make_key):
    """As rotation refuses an expired key (its successor would revive it), so does a
    PATCH of its expiry: a key that stopped working stays stopped."""
    key, secret = make_key("read")
    key.expires_at = timezone.now() - dt.timedelta(seconds=1)
    key.save(update_fields=["expires_at"])
    later = (timezone.now() + dt.timedelta(days=3)).isoformat()

    response = api_client.patch(f"{KEYS}{key.pk}", {"expires_at": later}, format="json")

    assert response.status_code == 400
    assert response.json()["expires_at"] == ["This key has expired: create a new key instead."]
    assert key_client(secret).get("/api/events/").status_code == 401


def test_rotation_grace_is_bounded(api_client, make_key):
    key, _ = make_key()

    response = api_client.post(
        f"{KEYS}{key.pk}/rotate", {"grace_seconds": 8 * 24 * 3600}, format="json"
    )

    assert response.status_code == 400
    assert "grace_seconds" in response.json()


def test_keys_cannot_manage_keys(make_key):
    key, secret = make_key("admin")

    for client_call in (
        lambda c: c.get(KEYS),
        lambda c: c.post(KEYS, {"name": "x", "role": "admin"}, format="json"),
        lambda c: c.post(f"{KEYS}{key.pk}/rotate", {}, format="json"),
        lambda c: c.delete(f"{KEYS}{key.pk}"),
    ):
        response = client_call(key_client(secret))
        assert response.status_code == 403
        assert "log in as a user" in response.json()["detail"]
    assert ApiKey.objects.count() == 1


def test_keys_cannot_use_account_routes(make_key):
    _, secret = make_key("admin")

    assert key_client(secret).get("/auth/users/me/").status_code == 403


def test_another_tenants_keys_are_invisible(api_client, other_tenant):
    theirs, _ = api_key_create(tenant=other_tenant, name="theirs", role="admin")

    assert api_client.get(KEYS).json() == []
    for response in (
        api_client.get(f"{KEYS}{theirs.pk}"),
        api_client.patch(f"{KEYS}{theirs.pk}", {"name": "mine"}, format="json"),
        api_client.delete(f"{KEYS}{theirs.pk}"),
        api_client.post(f"{KEYS}{theirs.pk}/rotate", {}, format="json"),
    ):
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.revoked_at, theirs.replaced_by) == ("theirs", None, None)


# --- using keys ------------------------------------------------------------------


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_both_headers_authenticate(make_key, header):
    _, secret = make_key("read")

    assert key_client(secret, header=header).get("/api/events/").status_code == 200


@pytest.mark.parametrize(
    ("role", "method", "url", "allowed"),
    [
        ("ingest", "post", "/api/eventlogs/", True),
        ("ingest", "post", "/api/eventlogs/batch/", True),
        ("ingest", "get", "/api/eventlogs/", False),
        ("ingest", "get", "/api/stats/event_trend", False),
        ("ingest", "post", "/api/events/", False),
        ("read", "get", "/api/eventlogs/", True),
        ("read", "get", "/api/events/", True),
        ("read", "get", "/api/stats/event_trend", True),
        ("read", "get", "/api/stats/event_frequency", True),
        ("read", "post", "/api/eventlogs/", False),
        ("read", "post", "/api/events/", False),
        ("admin", "post", "/api/events/", True),
        ("admin", "post", "/api/eventlogs/", True),
        ("admin", "get", "/api/stats/event_trend", True),
        # The API root and the schema it lists: every GET is a read key's (the schema
        # is anyone's; a key sent with it was refused as on a user-only route).
        ("read", "get", "/api/", True),
        ("read", "get", "/api/schema/", True),
        ("admin", "get", "/api/", True),
        ("admin", "get", "/api/schema/?format=json", True),
        ("ingest", "get", "/api/", False),
        ("ingest", "get", "/api/schema/", True),
    ],
)
def test_roles(make_key, role, method, url, allowed):
    _, secret = make_key(role)
    bodies = {
        "/api/eventlogs/": {"event_name": "a"},
        "/api/eventlogs/batch/": {"events": [{"event_name": "a"}]},
        "/api/events/": {"name": "new"},
    }

    response = getattr(key_client(secret), method)(url, bodies.get(url), format="json")

    if allowed:
        assert response.status_code in (200, 201)
    else:
        assert response.status_code == 403
        assert f"'{role}' role" in response.json()["detail"]


def test_only_admin_keys_delete(tenant, make_key):
    event = EventFactory(tenant=tenant)
    _, read_secret = make_key("read")
    _, admin_secret = make_key("admin")

    assert key_client(read_secret).delete(f"/api/events/{event.pk}").status_code == 403
    assert key_client(admin_secret).delete(f"/api/events/{event.pk}").status_code == 204


def test_key_sees_only_its_tenant(tenant, other_tenant, make_key):
    theirs = EventFactory(tenant=other_tenant, name="secret")
    _, secret = make_key("admin")
    client = key_client(secret)

    assert client.get("/api/events/").json() == []
    assert client.get(f"/api/events/{theirs.pk}").status_code == 404
    assert client.delete(f"/api/events/{theirs.pk}").status_code == 404
    client.post("/api/eventlogs/", {"event_name": "secret"}, format="json")
    assert EventLog.objects.filter(tenant=other_tenant).count() == 0
    assert EventLog.objects.get(tenant=tenant).event.tenant == tenant


def test_ingested_logs_record_the_key_not_a_user(tenant, make_key):
    key, secret = make_key("ingest")

    key_client(secret).post("/api/eventlogs/", {"event_name": "a"}, format="json")

    log = EventLog.objects.get(tenant=tenant)
    assert (log.api_key, log.created_by) == (key, None)


@pytest.mark.parametrize(
    "secret",
    ["", "et_", "et_short_x", "et_abcdefghijkl_", "nonsense", "et_abcdefghijkl_wrongsecret"],
)
def test_malformed_or_unknown_keys_are_401(make_key, secret):
    make_key()

    response = key_client(secret).get("/api/events/")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_right_prefix_wrong_secret_is_401(make_key):
    _, secret = make_key()
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    assert key_client(forged).get("/api/events/").status_code == 401


def test_expired_key_is_401(make_key):
    key, secret = make_key("read", expires_at=timezone.now() + dt.timedelta(hours=1))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = key_client(secret).get("/api/events/")

    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has expired."


def test_blocked_tenants_key_is_403_and_ingests_nothing(tenant, make_key):
    _, secret = make_key("ingest")
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)

    response = key_client(secret).post("/api/eventlogs/", {"event_name": "a"}, format="json")

    assert response.status_code == 403
    assert not EventLog.objects.exists()


def test_last_used_at_is_written_at_most_once_a_minute(make_key, monkeypatch):
    key, secret = make_key("read")
    client = key_client(secret)

    client.get("/api/events/")
    key.refresh_from_db()
    first = key.last_used_at
    client.get("/api/events/")
    key.refresh_from_db()

    assert first is not None
    assert key.last_used_at == first
    later = first + dt.timedelta(minutes=2)
    monkeypatch.setattr(authentication.timezone, "now", lambda: later)
    client.get("/api/events/")
    key.refresh_from_db()
    assert key.last_used_at == later


def test_key_verification_is_one_query(make_key, django_assert_max_num_queries):
    _, secret = make_key("read")
    client = key_client(secret)
    client.get("/api/events/")  # first use writes last_used_at

    with django_assert_max_num_queries(2):  # the key lookup + the list
        assert client.get("/api/events/").status_code == 200


# --- command line and admin -------------------------------------------------------


def test_create_api_key_command_prints_a_working_key(tenant):
    out, err = StringIO(), StringIO()

    call_command(
        "create_api_key", "--tenant", tenant.slug, "--role", "read", stdout=out, stderr=err
    )

    secret = out.getvalue().strip()
    assert key_client(secret).get("/api/events/").status_code == 200
    assert "shown only once" in err.getvalue()
    assert ApiKey.objects.get(tenant=tenant).name == "read key"


@pytest.mark.parametrize("name", ["slug", "id", "username"])
def test_create_api_key_command_finds_the_tenant_by_slug_id_or_username(user, tenant, name):
    given = {"slug": tenant.slug, "id": str(tenant.pk), "username": user.username}[name]
    out = StringIO()

    call_command(
        "create_api_key", "--tenant", given, "--role", "ingest", stdout=out, stderr=StringIO()
    )

    assert ApiKey.objects.get(tenant=tenant).role == "ingest"
    assert out.getvalue().strip().startswith("et_")


def test_create_api_key_command_refuses_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant"):
        call_command("create_api_key", "--tenant", "nope", "--role", "read", stdout=StringIO())


def test_admin_creates_a_key_and_shows_it_once(client, tenant):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)

    response = client.post(
        "/admin/accounts/apikey/add/",
        {"tenant": tenant.pk, "name": "from admin", "role": "ingest", "allowed_origins": "[]"},
        follow=True,
    )

    key = ApiKey.objects.get(name="from admin")
    shown = [str(m) for m in response.context["messages"]]
    assert response.status_code == 200
    assert any(f"et_{key.prefix}_" in message for message in shown)
    secret = next(m for m in shown if "et_" in m).rsplit(" ", 1)[1]
    assert (
        key_client(secret).post("/api/eventlogs/", {"event_name": "a"}, format="json").status_code
        == 201
    )
