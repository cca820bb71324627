"""Fixtures shared by every app's tests: two tenants, each with a logged-in client;
and the `pii` marker for tests that also use the people app's database."""

import hypothesis
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts import credentials
from accounts.models import AuthToken
from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from core import ratelimit
from events import blocklist, event_ids

# Hypothesis' checks of speed (a deadline per example, "input generation is slow") fail
# a property test when the machine is busy, not when the property is false: speed is
# the benchmark's business. Every property test runs without them.
hypothesis.settings.register_profile(
    "eventtracker", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("eventtracker")


def client_for(user) -> APIClient:
    """An API client logged in as `user` with a token (for fixtures of other apps too)."""
    client = APIClient()
    _, key = AuthToken.objects.create_token(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def token_client():
    """A factory: `token_client(user)` is an API client logged in as that user."""
    return client_for


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def tenant(user):
    return user.tenant


@pytest.fixture
def api_client(user) -> APIClient:
    """Authenticated as `user`, a member of `tenant`."""
    return client_for(user)


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def other_tenant(other_user):
    return other_user.tenant


@pytest.fixture
def other_client(other_user) -> APIClient:
    """Authenticated as a member of `other_tenant`."""
    return client_for(other_user)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def key_client(tenant):
    """`key_client("read")`: a client sending a new API key of `tenant` with that role."""

    def make(role: str) -> APIClient:
        _, secret = api_key_create(tenant=tenant, name=f"{role} key", role=role)
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=secret)
        return client

    return make


@pytest.fixture(autouse=True)
def _no_per_request_guards(settings):
    # The stats deadline costs two queries on PostgreSQL (set and reset
    # statement_timeout): the pinned query counts of the views should not include them.
    # Rate limits and the deadline have their own tests, which turn them on.
    settings.EVENTTRACKER = {
        **settings.EVENTTRACKER,
        "INGEST_RATE": "off",
        "READ_RATE": "off",
        "STATS_STATEMENT_TIMEOUT_MS": 0,
    }


@pytest.fixture(autouse=True)
def _fresh_process_state():
    # Rolled-back tests reuse tenant and user ids and cache versions, which key the
    # per-process caches and the in-process rate counters.
    blocklist.clear_cache()
    credentials.clear_cache()
    event_ids.clear_cache()
    ratelimit.LOCAL.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness buys nothing in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


BOTH_DATABASES = ["default", "pii"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix, django_db_keepdb, django_db_blocker
):
    """On a Citus coordinator (`make test-citus`) the test databases are made here, on
    every node with the extension and the workers registered (Django would create them
    on the coordinator alone); Django then keeps (`--reuse-db`) and migrates them, and
    migrate distributes the tables (core.sharding)."""
    from django.db import connections

    from core.sharding import create_database, is_citus

    with django_db_blocker.unblock():
        citus = [alias for alias in connections if is_citus(alias)]
    if citus and not django_db_keepdb:
        pytest.exit("On Citus, run pytest with --reuse-db (make test-citus does).", 2)
    for alias in citus:
        connection = connections[alias]
        create_database(connection.settings_dict, connection.creation._get_test_db_name())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """`@pytest.mark.pii` (or `pytestmark = pytest.mark.pii`): the test may use the "pii"
    database as well as the default one. Django refuses queries to a database a test did
    not declare, so a test without the marker cannot touch personal data by accident."""
    on_postgres = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if item.get_closest_marker("postgres") is not None and not on_postgres:
            # Behaviour SQLite does not have (its writers take turns by design); the
            # PostgreSQL pass of `make test` runs these.
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only: run with DATABASE_URL"))
        if item.get_closest_marker("pii") is None:
            continue
        declared = item.get_closest_marker("django_db")
        options = dict(declared.kwargs) if declared is not None else {}
        options["databases"] = BOTH_DATABASES
        item.add_marker(pytest.mark.django_db(**options), append=False)
