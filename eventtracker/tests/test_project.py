"""Project wiring: health, OpenAPI and its local assets, admin, error shapes, settings."""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from django.contrib import admin as django_admin
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import api_key_create, api_key_revoke
from events.tests.factories import EventLogFactory
from eventtracker.tests.live_server import live_gunicorn
from people.tests.factories import PersonFactory

BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("path", ["/health/ping", "/health/ping/"])
def test_ping_needs_no_credential(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == "ping ok"


@pytest.mark.pii
@pytest.mark.parametrize("path", ["/health/ready", "/health/ready/"])
def test_ready_checks_both_databases(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert set(response.json()) == {"status", "database", "pii_database"}


@pytest.mark.pii
@pytest.mark.parametrize("path", ["/health/ping", "/health/ready/"])
def test_probes_answer_whatever_the_host(client, settings, path):
    """A load balancer checks a node by its address, docker's health check by 127.0.0.1:
    neither is in ALLOWED_HOSTS, which names the real domain in production."""
    settings.ALLOWED_HOSTS = ["events.example.com"]

    probe = client.get(path, HTTP_HOST="10.0.0.7:8000")
    other = client.get("/api/events/", HTTP_HOST="10.0.0.7:8000")

    assert probe.status_code == 200
    assert other.status_code == 400  # every other route still checks the host


READ_ONLY_ROUTES = [
    "/health/ping",
    "/health/ready/",
    "/metrics",
    "/t.js",
    "/l.js",
    "/js/stats.js",
    "/js/stats.links.js",
    "/api/redoc/dist/bundles/redoc.standalone.js",
]


@pytest.mark.pii
@pytest.mark.parametrize("path", READ_ONLY_ROUTES)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_read_only_routes_answer_other_methods_with_a_json_405(path, method):
    """Not the CSRF check's HTML 403: these routes take no form."""
    client = Client(enforce_csrf_checks=True)

    response = client.generic(method, path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}


@pytest.mark.pii
@pytest.mark.parametrize("path", READ_ONLY_ROUTES)
def test_read_only_routes_answer_head_as_get(client, path):
    """Load balancers probe with HEAD."""
    assert client.head(path).status_code == client.get(path).status_code == 200


def test_a_csrf_failure_is_json_except_for_a_browser_form():
    client = Client(enforce_csrf_checks=True)
    login = {"username": "a", "password": "b"}

    api_client = client.post("/dashboard/login/", login, HTTP_ACCEPT="application/json")
    browser = client.post("/dashboard/login/", login, HTTP_ACCEPT="text/html,*/*;q=0.8")

    assert api_client.status_code == browser.status_code == 403
    assert api_client.json()["detail"].startswith("CSRF verification failed")
    assert browser["Content-Type"].startswith("text/html")
    assert b"CSRF" in browser.content


def test_a_chunked_body_is_refused_by_the_real_server_with_411(tmp_path):
    """gunicorn hands Django a chunked body without a Content-Length, which Django does
    not read: 411 rather than a request taken as empty."""
    with live_gunicorn(tmp_path, workers=1) as base:
        url = urllib.parse.urlsplit(base)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        try:
            connection.request(
                "POST",
                "/auth/token/login/",
                body=iter([b'{"username": "a", ', b'"password": "b"}']),  # sent chunked
                headers={"Content-Type": "application/json"},
                encode_chunked=True,
            )
            response = connection.getresponse()
            status, body = response.status, json.loads(response.read())
        finally:
            connection.close()

    assert status == 411, body
    assert "Content-Length" in body["detail"]


def test_ready_is_503_when_a_database_is_down(tmp_path):
    """A real server whose personal-data database disappears after it started."""
    with live_gunicorn(tmp_path, workers=1) as base:
        pii = tmp_path / "pii.sqlite3"
        pii.unlink()
        pii.mkdir()  # SQLite cannot open a directory: the next connection fails
        try:
            urllib.request.urlopen(f"{base}/health/ready", timeout=10)  # noqa: S310
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read())

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["pii_database"] == "unavailable"  # the reason stays in the log
    assert body["database"] == "sqlite"


def test_unknown_url_is_json_404(client):
    response = client.get("/no/such/route")

    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize(
    "path",
    ["/api/events/-1.1e-194/", "/api/nope", "/api/stats/nope/", "/admin/v1/nope", "/api/"],
)
def test_every_unmatched_api_path_answers_json_404(api_client, settings, debug, method, path):
    settings.DEBUG = debug  # make run's DEBUG answered Django's HTML page here

    response = getattr(api_client, method)(path)

    if path == "/api/":  # the API root exists: GET lists it, other methods are refused
        assert response.status_code in (200, 405)
    else:
        assert response.status_code == 404
        assert response.json()["detail"] == "Not found."
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "accept", "status", "named"),
    [
        ("", "text/html", 406, "detail"),
        ("", "application/xml", 406, "detail"),
        ("?format=xml", "*/*", 400, "format"),  # an unknown format, named as any parameter
    ],
)
def test_schema_errors_are_json_like_every_other_error(anon_client, query, accept, status, named):
    response = anon_client.get(f"/api/schema/{query}", HTTP_ACCEPT=accept)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {named}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "content_type", "start"),
    [
        ("*/*", "application/vnd.oai.openapi", b"openapi: "),
        ("application/json", "application/json", b"{"),
    ],
)
def test_schema_is_yaml_or_json_as_asked(anon_client, accept, content_type, start):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response.content.lstrip().startswith(start)


@pytest.mark.django_db
def test_schema_documents_every_api_route(api_client):
    response = api_client.get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for route in (
        "/api/events/",
        "/api/events/{id}/",
        "/api/eventlogs/",
        "/api/eventlogs/{id}/",
        "/api/stats/event_trend",
        "/api/stats/event_frequency",
    ):
        assert any(path.rstrip("/") == route.rstrip("/") for path in paths), route
    create = paths[next(p for p in paths if p.rstrip("/") == "/api/eventlogs")]["post"]
    assert {"200", "201", "400"} <= set(create["responses"])


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_load_assets_locally(client, url):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    asset_urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert asset_urls, "the page should reference its script/style assets"
    assert all(not re.match(r"^(https?:)?//", asset) for asset in asset_urls), asset_urls
    for script in (asset for asset in asset_urls if asset.endswith(".js")):
        loaded = client.get(script)
        assert loaded.status_code == 200, script
        body = b"".join(loaded) if loaded.streaming else loaded.content
        assert b"cdn.redoc.ly" not in body  # ReDoc's logo came from its makers' CDN


def test_the_redoc_bundle_is_cached_by_etag(client):
    bundle = "/api/redoc/dist/bundles/redoc.standalone.js"
    first = client.get(bundle)

    again = client.get(bundle, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert first["Content-Type"].startswith("text/javascript")
    assert again.status_code == 304


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/dashboard/login/", "/api/docs/", "/admin/login/"])
def test_html_pages_carry_a_content_security_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no other host
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


@pytest.mark.django_db
def test_json_answers_carry_no_policy(api_client):
    response = api_client.get("/api/events/")

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


@pytest.mark.pii
def test_admin_lists_every_model(client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    EventLogFactory(tenant=admin.tenant, event__tenant=admin.tenant)
    person = PersonFactory(tenant_id=admin.tenant_id)
    client.force_login(admin)

    for url in (
        "/admin/accounts/tenant/",
        "/admin/accounts/user/",
        "/admin/events/event/",
        "/admin/events/eventlog/",
        "/admin/events/hourlycount/",
        "/admin/accounts/apikey/",
        "/admin/accounts/authtoken/",
        f"/admin/accounts/tenant/?id={admin.tenant_id}",
        "/admin/events/event/?q=event",
        "/admin/events/deletionreceipt/",
        "/admin/people/person/",
        "/admin/people/person/?q=ada",
        f"/admin/people/person/{person.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    # And the list page of every model registered, whichever app adds one.
    for model in django_admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


@pytest.mark.pii
def test_no_admin_list_fails_on_a_filter_value_the_database_refuses(client):
    """Django lets a list filter on any of the model's own fields by the query string:
    a year 0 (no such date in Python) or a NUL (PostgreSQL stores none) was a 500."""
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    EventLogFactory(tenant=admin.tenant, event__tenant=admin.tenant)
    PersonFactory(tenant_id=admin.tenant_id)
    client.force_login(admin)

    for model in django_admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        for field in meta.concrete_fields:
            if field.get_internal_type() in ("DateTimeField", "DateField"):
                bad = {f"{field.name}__year": "0"}
            elif field.get_internal_type() in ("CharField", "TextField"):
                bad = {field.name: "a\x00b"}
            else:
                continue
            response = client.get(url, bad)
            assert response.status_code in (200, 302, 400), (url, bad)  # the list, or ?e=1


@pytest.mark.django_db
def test_every_model_a_tenant_keeps_is_in_the_admin():
    """Saved insights, dashboards, annotations and import receipts were missing."""
    registered = {model._meta.label for model in django_admin.site._registry}

    assert {
        "insights.Insight",
        "insights.Dashboard",
        "stats.Annotation",
        "webimports.WebImport",
    } <= registered


@pytest.mark.django_db
def test_a_shared_dashboards_link_is_not_shown_in_the_admin(client, api_client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    board = api_client.post("/api/dashboards/", {"name": "Sales"}, format="json").json()
    link = api_client.post(f"/api/dashboards/{board['id']}/share/").json()["share_url"]
    client.force_login(admin)

    listed = client.get("/admin/insights/dashboard/").content.decode()
    page = client.get(f"/admin/insights/dashboard/{board['id']}/change/").content.decode()

    token = link.rstrip("/").rsplit("/", 1)[1]
    assert "Sales" in listed
    assert token not in listed
    assert token not in page


@pytest.mark.django_db
def test_deleting_a_blocklist_rule_in_the_admin_reaches_every_process(client, api_client, tenant):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456")
    rule = api_client.post("/api/blocklist/", {"kind": "ip", "value": "127.0.0.1"}).json()
    assert api_client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 403
    client.force_login(admin)

    client.post(f"/admin/events/blockrule/{rule['id']}/delete/", {"post": "yes"})

    assert api_client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 201


def _settings_import(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", "import eventtracker.settings"],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_import({"DJANGO_DEBUG": "0"})

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_mode_starts_without_a_secret_key():
    assert _settings_import({"DJANGO_DEBUG": "1"}).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_REQUEST_BODY_BYTES", "1MB"),
        ("MAX_REQUEST_BODY_BYTES", "0"),
        ("DJANGO_SECURE_HSTS_SECONDS", "1y"),
        ("STATS_STATEMENT_TIMEOUT_MS", "-5"),
        ("LIST_COUNT_CAP", "-1"),
        ("MAX_FUTURE_SKEW_SECONDS", "-1"),
        ("WEBIMPORT_MAX_SECONDS", "abc"),
        ("WEBIMPORT_MAX_SECONDS", "nan"),
        ("STATS_WORK_MEM", "lots"),
        ("METRICS_ALLOWED_NETWORKS", "bad"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("REDIS_URL", "127.0.0.1:6379"),
        ("LOG_LEVEL", "bogus"),
        ("GEOIP_DATABASE", "/nonexistent/city.mmdb"),
        ("DJANGO_ENV_FILE", "/nonexistent/prod.env"),
    ],
)
def test_a_bad_setting_is_refused_at_start_up_by_name(name, value):
    """Each was a traceback naming nothing (int()'s "invalid literal"), a 500 on every
    request (REDIS_URL), or accepted (a negative timeout, a missing file)."""
    result = _settings_import({"DJANGO_DEBUG": "1", name: value})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits, as METRICS_ALLOWED_NETWORKS takes too
        ("METRICS_ALLOWED_NETWORKS", "10.0.0.1/8, ::1"),
        ("DATABASE_PREPARE_THRESHOLD", ""),
        ("STATS_WORK_MEM", "128 MB"),
        ("STATS_WORK_MEM", "1.5GB"),
        ("STATS_WORK_MEM", "1048576B"),
        ("LIST_COUNT_CAP", "0"),  # never count past the page
        ("LOG_LEVEL", "warning"),
        ("REDIS_URL", "rediss://cache.internal:6380/1"),
    ],
)
def test_a_good_setting_starts(name, value):
    result = _settings_import({"DJANGO_DEBUG": "1", name: value})

    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_schema_documents_global_error_answers(api_client):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    # Every operation: bad input, a bad credential (even on open routes, which still
    # authenticate one that is sent), a blocked tenant, not found or an unknown format,
    # the rate limit, the database unavailable. Bodies also: too large, wrong type.
    everywhere = {"400", "401", "403", "404", "429", "503"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert everywhere <= set(operation["responses"]), (method, path)
    detail = paths["/api/events/{id}/"]
    assert "413" not in detail["get"]["responses"]
    assert {"411", "413", "415"} <= set(detail["patch"]["responses"])
    assert {"411", "413", "415"} <= set(paths["/auth/token/login/"]["post"]["responses"])


@pytest.mark.django_db
def test_schema_gives_every_error_answer_its_json_body(api_client):
    # Views that document an error with a description only (a stats route's 400 and
    # 404, a rotation's 409) get the body it is sent with; 414 comes from gunicorn.
    paths = api_client.get("/api/schema/?format=json").json()["paths"]

    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] in "45" and status != "414":
                    assert "schema" in response["content"]["application/json"], (
                        method,
                        path,
                        status,
                    )
                    assert response["description"] != "No response body", (method, path)


def _error_schema(document: dict, path: str, method: str, status: int) -> dict:
    """The schema `document` gives that answer, with the components its refs point to."""
    response = document["paths"][path][method]["responses"][str(status)]
    return {**response["content"]["application/json"]["schema"], **document}


@pytest.mark.django_db
def test_error_answers_match_their_schema(api_client, tenant):
    document = api_client.get("/api/schema/?format=json").json()
    key, _ = api_key_create(tenant=tenant, name="gone", role="read")
    api_key_revoke(key=key)
    answers = [
        ("/api/stats/event_amount/", "get", api_client.get("/api/stats/event_amount/")),
        (
            "/api/stats/event_amount/",
            "get",
            api_client.get("/api/stats/event_amount/", {"event_name": "nope"}),
        ),
        ("/api/query/", "post", api_client.post("/api/query/", {"metrics": [1]}, format="json")),
        ("/api/funnels/", "post", api_client.post("/api/funnels/", {"steps": [{}]}, format="json")),
        ("/api/retention/", "post", api_client.post("/api/retention/", {"x": 1}, format="json")),
        (
            "/api/insights/{id}/results/",
            "get",
            api_client.get("/api/insights/999999/results/"),
        ),
        ("/api/keys/{id}/rotate/", "post", api_client.post(f"/api/keys/{key.pk}/rotate/")),
    ]

    statuses = []
    for path, method, answer in answers:
        statuses.append(answer.status_code)
        schema = _error_schema(document, path, method, answer.status_code)
        jsonschema.validate(answer.json(), schema)
    assert statuses == [400, 404, 400, 400, 400, 404, 409]


# --- local set-up: management commands in a plain shell ------------------------------


def _manage(*args: str, env_file: Path) -> subprocess.CompletedProcess:
    """`manage.py …` as a user's shell runs it: no DJANGO_* variable exported."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    env["DJANGO_ENV_FILE"] = str(env_file)
    return subprocess.run(  # noqa: S603 - this interpreter and the project's manage.py
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _make_env_file(env_file: Path) -> subprocess.CompletedProcess:
    """`make <env_file>`: what `make run` does first on a fresh checkout."""
    make = shutil.which("make")
    assert make is not None, "make is needed by the README's own set-up"
    return subprocess.run(  # noqa: S603 - make, the project's Makefile, a temp file
        [make, "--no-print-directory", "-C", str(BASE_DIR), f"ENV_FILE={env_file}", str(env_file)],
        check=True,
        capture_output=True,
        text=True,
    )


def test_make_writes_a_local_env_file_once(tmp_path):
    env_file = tmp_path / ".env"

    _make_env_file(env_file)
    written = env_file.read_text()
    again = _make_env_file(env_file)

    values = dict(line.split("=", 1) for line in written.splitlines() if not line.startswith("#"))
    assert values["DJANGO_DEBUG"] == "1"
    assert len(values["DJANGO_SECRET_KEY"]) >= 50
    assert env_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert env_file.read_text() == written  # never rewritten: the key stays the same
    assert "is up to date" in again.stdout


def test_commands_run_in_a_plain_shell_with_the_local_env_file(tmp_path):
    env_file = tmp_path / ".env"
    _make_env_file(env_file)

    result = _manage("create_api_key", "--help", env_file=env_file)

    assert result.returncode == 0, result.stderr
    assert "--tenant" in result.stdout


def test_without_a_secret_key_a_command_refuses_in_one_line(tmp_path):
    empty = tmp_path / "empty.env"  # not the checkout's .env, which may hold a key
    empty.touch()
    result = _manage("create_api_key", "--help", env_file=empty)

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "DJANGO_SECRET_KEY must be set" in line
    assert "make run" in line
