"""Credentials cached per process: a known token or key costs one read of its tenant (a
single event none: its write checks the tenant row itself), and logging out, revoking a
key, deactivating a user or blocking a tenant is seen by the very next request, in this
process and in every other worker."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Tenant
from accounts.services import api_key_create
from eventtracker.tests.live_server import call, live_gunicorn, sign_up

URL = "/api/events/"


@pytest.fixture
def make_key(tenant):
    def make(role: str) -> tuple:
        return api_key_create(tenant=tenant, name=f"{role} key", role=role)

    return make


def key_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


def auth_tables(client) -> set[str]:
    """The credential tables one request reads."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    return {table for table in ("accounts_authtoken", "accounts_apikey") if f'"{table}"' in sql}


@pytest.mark.django_db
def test_a_known_token_reads_only_its_tenant(api_client):
    assert auth_tables(api_client) == {"accounts_authtoken"}
    assert auth_tables(api_client) == set()


@pytest.mark.django_db
def test_a_known_api_key_reads_only_its_tenant(make_key):
    _, secret = make_key("read")
    client = key_client(secret)

    assert "accounts_apikey" in auth_tables(client)
    assert auth_tables(client) == set()


@pytest.mark.django_db
def test_logging_out_ends_a_cached_token_at_once(api_client):
    assert api_client.get(URL).status_code == 200

    assert api_client.post("/auth/token/logout/").status_code == 204

    assert api_client.get(URL).status_code == 401


@pytest.mark.django_db
def test_revoking_a_cached_key_ends_it_at_once(api_client, make_key):
    key, secret = make_key("read")
    assert key_client(secret).get(URL).status_code == 200

    assert api_client.delete(f"/api/keys/{key.pk}").status_code == 204

    answer = key_client(secret).get(URL)
    assert (answer.status_code, answer.json()["detail"]) == (401, "This API key has been revoked.")


@pytest.mark.django_db
def test_a_wrong_secret_with_a_cached_prefix_is_refused(make_key):
    _, secret = make_key("read")
    assert key_client(secret).get(URL).status_code == 200

    assert key_client(secret[:-4] + "AAAA").get(URL).status_code == 401


@pytest.mark.django_db
def test_deactivating_the_user_ends_a_cached_token_at_once(api_client, user):
    assert api_client.get(URL).status_code == 200

    user.is_active = False
    user.save(update_fields=["is_active"])

    assert api_client.get(URL).status_code == 401


@pytest.mark.django_db
def test_blocking_the_tenant_is_seen_at_once_even_by_a_bulk_update(api_client, tenant):
    assert api_client.get(URL).status_code == 200

    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)  # the admin's block action

    assert api_client.get(URL).status_code == 403


@pytest.mark.django_db
def test_moving_a_user_to_another_tenant_is_seen_at_once(
    api_client, user, other_client, other_tenant
):
    assert other_client.post(URL, {"name": "theirs"}, format="json").status_code == 201
    assert api_client.get(URL).json() == []

    user.tenant = other_tenant
    user.save(update_fields=["tenant"])

    assert [event["name"] for event in api_client.get(URL).json()] == ["theirs"]


def test_a_logout_is_seen_by_every_worker(tmp_path):
    """Two gunicorn workers, each having verified (and cached) the token: after one
    logout, every following request fails, whichever worker answers it."""
    with live_gunicorn(tmp_path, workers=2) as base:
        token = sign_up(base, f"u{uuid.uuid4().hex[:8]}", "alpine12x")
        before = [call(f"{base}{URL}", token=token)[0] for _ in range(8)]
        logout = call(f"{base}/auth/token/logout/", method="POST", token=token)[0]
        after = [call(f"{base}{URL}", token=token)[0] for _ in range(8)]

    assert before == [200] * 8
    assert logout == 204
    assert after == [401] * 8


def test_a_logout_stops_single_events_in_every_worker(tmp_path):
    """The single-event fast path holds a verified token's tenant as cached and lets the
    write itself check the tenant row (events.bulk): a logout still stops the very next
    event in every worker, and none is stored after it."""
    event = {"event_name": "signup"}
    with live_gunicorn(tmp_path, workers=2) as base:
        token = sign_up(base, f"u{uuid.uuid4().hex[:8]}", "alpine12x")
        before = [call(f"{base}/api/eventlogs/", body=event, token=token)[0] for _ in range(8)]
        stored = call(f"{base}/api/eventlogs/", token=token)[1]
        logout = call(f"{base}/auth/token/logout/", method="POST", token=token)[0]
        after = [call(f"{base}/api/eventlogs/", body=event, token=token)[0] for _ in range(8)]

    assert before == [201] * 8
    assert len(stored) == 8
    assert logout == 204
    assert after == [401] * 8
