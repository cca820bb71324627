"""Schemathesis against our own OpenAPI schema, on a real gunicorn: every operation,
with a user's token and with an API key of each role, fixed seed, bounded examples.

Checks: all of Schemathesis' but two that the schema cannot satisfy by design —
`positive_data_acceptance` (rules the schema cannot state: an event name already taken
is a 400, as seed 001 wants; an IP blocklist rule must be an address) and
`negative_data_rejection` (unknown query parameters are ignored, like most APIs do;
unknown body fields are refused, and that is tested elsewhere).
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connections

from core.sharding import create_database, drop_database
from eventtracker.tests.live_server import BASE_DIR, call, live_gunicorn, sign_up

pytestmark = pytest.mark.schema
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance,negative_data_rejection"]
SEED = "20261125"
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "8")
# Routes that can end the run's own credential: logging out, revoking its token, deleting
# or renaming the user, removing it from its team or demoting it.
ACCOUNT_ROUTES = r"^/(auth/|api/tokens|api/members)"


@contextmanager
def scratch_database(directory: Path) -> Iterator[str]:
    """A database URL for the server under test: a new database on the PostgreSQL server
    of DATABASE_URL when that is one (on every node of a Citus cluster; dropped
    afterwards), else a SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{directory / 'db.sqlite3'}"
        return
    name = f"schemathesis_{os.getpid()}"
    settings_dict = connections["default"].settings_dict
    create_database(settings_dict, name)
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        drop_database(settings_dict, name)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The service, a staff user's token (staff: the platform admin routes are tested
    too), an API key of each role, and the schema as that user downloads it."""
    directory = tmp_path_factory.mktemp("schemathesis")
    with (
        scratch_database(directory) as database_url,
        live_gunicorn(
            directory, workers=2, INGEST_RATE="off", READ_RATE="off", DATABASE_URL=database_url
        ) as base,
    ):
        password = "alpine12x-fuzz"
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "createsuperuser",
                "--noinput",
                "--username",
                "fuzz",
                "--email",
                "fuzz@example.com",
            ],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "DJANGO_SECRET_KEY": "test",
                "DATABASE_URL": database_url,
                "PII_DATABASE_URL": f"sqlite:///{directory / 'pii.sqlite3'}",
                "DJANGO_SUPERUSER_PASSWORD": password,
            },
            check=True,
            timeout=60,
        )
        status, login = call(
            f"{base}/auth/token/login/", body={"username": "fuzz", "password": password}
        )
        assert status == 200
        token = login["auth_token"]
        keys = {role: _new_key(base, token, role) for role in ("ingest", "read", "admin")}
        schema = directory / "schema.json"
        status, document = call(f"{base}/api/schema/?format=json", token=token)
        assert status == 200
        schema.write_text(json.dumps(document))
        yield {"base": base, "token": token, "keys": keys, "schema": schema, "dir": directory}


def _new_key(base: str, token: str, role: str) -> str:
    status, key = call(f"{base}/api/keys/", body={"name": role, "role": role}, token=token)
    assert status == 201
    return key["key"]


def _run(api: dict, name: str, auth: dict[str, str], *extra: str) -> None:
    """One Schemathesis run; `auth` maps a security scheme of the schema to its value,
    so that Schemathesis itself can also send it wrong or leave it out."""
    config = api["dir"] / f"{name}.toml"
    config.write_text(
        "".join(f'[auth.openapi.{scheme}]\napi_key = "{value}"\n' for scheme, value in auth.items())
    )
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(config),
        "run",
        str(api["schema"]),
        "--url",
        api["base"],
        *CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-shrink",
        "--continue-on-failure",
        "--request-timeout",
        "30",
        *extra,
    ]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        command, capture_output=True, text=True, timeout=600, cwd=api["dir"]
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    selected = re.search(r"Selected: (\d+)/\d+", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected, result.stdout[-5000:]
    assert tested, result.stdout[-5000:]
    assert int(tested[1]) == int(selected[1]) > 0, "every selected operation was exercised"


def test_every_operation_with_a_users_token(api):
    _run(
        api,
        "token",
        {"tokenAuth": f"Token {api['token']}"},
        "--exclude-path-regex",
        ACCOUNT_ROUTES,
    )


@pytest.mark.parametrize("role", ["ingest", "read", "admin"])
def test_every_operation_with_an_api_key(api, role):
    _run(api, role, {"apiKeyAuth": api["keys"][role]}, "--exclude-path-regex", ACCOUNT_ROUTES)


def test_the_account_routes_with_a_throwaway_user(api):
    # Last: these log out, rename and delete the user whose token they carry.
    token = sign_up(api["base"], "throwaway", "alpine12x-gone")
    _run(api, "accounts", {"tokenAuth": f"Token {token}"}, "--include-path-regex", ACCOUNT_ROUTES)
