"""Production settings and secrets: `check --deploy` is clean on the production profile,
the dev profile stays plain HTTP, no credential reaches a log, and the admin is closed."""

import http.client
import logging
import os
import runpy
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import path

from accounts.models import AuthToken
from accounts.services import api_key_create
from accounts.tests.factories import UserFactory
from core.logredact import RedactPersonPaths
from eventtracker import urls as root_urls
from eventtracker.tests.live_server import live_gunicorn

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SETTINGS_PROFILE": "production",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "TRUSTED_PROXIES": "192.0.2.1/32",  # the proxy in front (none here: clients are direct)
}
HTTPS = {"X-Forwarded-Proto": "https"}


def _run_python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """`python <args>` in the project with the test environment plus `env`."""
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- the production profile -----------------------------------------------------------


def test_deploy_check_finds_no_issue_on_the_production_profile():
    result = _run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_ENV,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_dev_profile_does_not_redirect_to_https():
    script = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/t.js', HTTP_HOST='127.0.0.1'); "
        "print(r.status_code, r.get('Location'), r.get('Strict-Transport-Security'))"
    )
    result = _run_python(["-c", script], DJANGO_DEBUG="1", DJANGO_SETTINGS_PROFILE="dev")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "None", "None"]


def test_deploy_check_warns_of_a_production_profile_without_trusted_proxies():
    result = _run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **{**PRODUCTION_ENV, "TRUSTED_PROXIES": ""},
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="example.com",
    )

    assert result.returncode != 0
    assert "core.W001" in result.stderr


def test_production_profile_refuses_debug():
    result = _run_python(
        ["manage.py", "check"], DJANGO_DEBUG="1", DJANGO_SETTINGS_PROFILE="production"
    )

    assert result.returncode != 0
    assert "DJANGO_SETTINGS_PROFILE=production needs DJANGO_DEBUG off" in result.stderr


@pytest.fixture(scope="module")
def production_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A real gunicorn on the production profile: (base URL, its log file). gunicorn is
    told to trust no proxy (it believes X-Forwarded-Proto from 127.0.0.1 by default), so
    that https is recognised by DJANGO_SECURE_PROXY_SSL_HEADER alone."""
    tmp_path = tmp_path_factory.mktemp("production")
    env = {**PRODUCTION_ENV, "FORWARDED_ALLOW_IPS": "192.0.2.1"}
    with live_gunicorn(tmp_path, workers=1, **env) as base:
        yield base, tmp_path / "gunicorn.log"


def _http(base: str, method: str, target: str, headers: dict[str, str] | None = None):
    """One request, redirects not followed: (status, headers, body)."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(
            method, target, body=b"{}" if method == "POST" else None, headers=headers or {}
        )
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_production_redirects_plain_http_to_https(production_server):
    base, _ = production_server

    status, headers, _ = _http(base, "GET", "/api/events/?limit=1")

    assert status == 301
    assert headers["Location"] == f"{base.replace('http:', 'https:')}/api/events/?limit=1"


def test_health_and_metrics_answer_plain_http(production_server):
    base, _ = production_server

    ping = _http(base, "GET", "/health/ping")
    ready = _http(base, "GET", "/health/ready")
    metrics = _http(base, "GET", "/metrics")

    assert (ping[0], ping[2]) == (200, b'"ping ok"')
    assert ready[0] == 200
    assert metrics[0] == 200  # loopback is in METRICS_ALLOWED_NETWORKS


def test_production_answers_carry_the_security_headers(production_server):
    base, _ = production_server

    status, headers, body = _http(base, "GET", "/t.js", HTTPS)

    assert status == 200
    assert b"eventtracker" in body
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_a_host_not_allowed_is_one_line_of_the_log(production_server):
    """Scanners ask by address: each such request logged Django's whole traceback."""
    base, log_path = production_server

    status, _, _ = _http(base, "GET", "/api/events/", {**HTTPS, "Host": "10.1.1.1"})

    assert status == 400
    log = _log_with(log_path, "Invalid HTTP_HOST header: '10.1.1.1'")
    assert "Invalid HTTP_HOST header: '10.1.1.1'" in log
    assert "DisallowedHost" not in log  # the traceback's last line names the exception
    assert "Traceback" not in log


# --- secrets never logged ----------------------------------------------------------------

URL_KEY = "et_urlkeyprefix_" + "U" * 40
HEADER_KEY = "et_hdrkeyprefix_" + "H" * 40
TOKEN = "T" * 40


def _log_with(log_path: Path, *lines: str, timeout: float = 10.0) -> str:
    """The server's log once it holds every one of `lines`: a worker writes a request's
    access line after its answer is sent, so the client may be ahead of the log (another
    worker's later request logged first). Returns the log as it is at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        log = log_path.read_text(encoding="utf-8", errors="replace")
        if all(line in log for line in lines) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_gunicorn_logs_no_credential(production_server):
    base, log_path = production_server
    # One credential a request (several are a 400, also logged with its path).
    batch = _http(base, "POST", f"/api/eventlogs/batch/?key={URL_KEY}", HTTPS)
    header = _http(base, "GET", "/api/events/", {"X-Api-Key": HEADER_KEY, **HTTPS})
    events = _http(base, "GET", "/api/events/", {"Authorization": f"Token {TOKEN}", **HTTPS})
    several = _http(base, "GET", f"/api/events/?key={URL_KEY}", {"X-Api-Key": HEADER_KEY, **HTTPS})
    plain = _http(base, "GET", f"/api/events/?key={URL_KEY}")
    # A request line gunicorn refuses is quoted in its error log.
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port)) as raw:
        raw.sendall(f"GET /x?key={URL_KEY}\x01 HTTP/1.1\r\nHost: a\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 400")

    assert (batch[0], header[0], events[0], several[0], plain[0]) == (401, 401, 401, 400, 301)
    logged = '"POST /api/eventlogs/batch/ HTTP/1.1" 401'
    log = _log_with(log_path, logged, "Unauthorized: /api/events/", "Bad Request: /api/events/")
    assert logged in log
    assert "Unauthorized: /api/events/" in log  # Django's request log, same stream
    assert "Bad Request: /api/events/" in log
    assert "Invalid HTTP request line: 'GET /x?key=[redacted]" in log
    for secret in (URL_KEY, HEADER_KEY, TOKEN):
        assert secret not in log


def test_gunicorn_logs_no_email_or_distinct_id_of_a_people_route(production_server):
    base, log_path = production_server
    credentials = {"Authorization": f"Token {TOKEN}", **HTTPS}

    answers = [
        _http(base, "GET", "/api/people/by-email/jan.kowalski%40shop.example", credentials),
        _http(base, "GET", "/api/people/jane.doe@mail.example/export", credentials),
        _http(base, "DELETE", "/api/people/guest-4711/events?erase_events=true", credentials),
        _http(base, "GET", "/api/people/guest-4711"),  # plain http: redirected
    ]

    assert [answer[0] for answer in answers] == [401, 401, 401, 301]
    logged = [
        '"GET /api/people/by-email/[redacted] HTTP/1.1" 401',
        '"GET /api/people/[redacted]/export HTTP/1.1" 401',
        '"DELETE /api/people/[redacted]/events HTTP/1.1" 401',
        '"GET /api/people/[redacted] HTTP/1.1" 301',
        "Unauthorized: /api/people/[redacted]/export",  # Django's request log
    ]
    log = _log_with(log_path, *logged)
    for line in logged:
        assert line in log
    for personal in ("jan.kowalski", "jane.doe", "mail.example", "guest-4711"):
        assert personal not in log


def test_gunicorn_logs_escape_control_characters(production_server):
    """A path with %0A and a fake request line after it, a NUL, a C1 control in the
    User-Agent: each line the server writes stays one line, the controls escaped."""
    base, log_path = production_server
    fake = '127.0.0.1 - - [01/Jan/2001:10:00:00 +0000] "POST /api/eventlogs/ HTTP/1.1" 201'
    injected = _http(base, "GET", "/x%0A" + urllib.parse.quote(fake) + "%0A", HTTPS)
    nul = _http(base, "POST", "/api/v1/events/a%00b", HTTPS)
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port)) as raw:
        raw.sendall(
            b"GET /y%E2%80%A8z HTTP/1.1\r\nHost: " + url.netloc.encode() + b"\r\n"
            b"X-Forwarded-Proto: https\r\nUser-Agent: agent\x85\tred\r\nConnection: close\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 404")

    assert (injected[0], nul[0]) == (404, 404)
    logged = [
        '"GET /x\\x0a127.0.0.1 - - [01/Jan/2001:10:00:00 +0000] \\"POST /api/eventlogs/',
        '"POST /api/v1/events/a\\x00b HTTP/1.1" 404',
        '"GET /y\\u2028z HTTP/1.1" 404',
        '"agent\\x85\\x09red"',
    ]
    log = _log_with(log_path, *logged)
    for line in logged:
        assert line in log
    lines = log.splitlines()
    assert not [line for line in lines if line.startswith("127.0.0.1 - - [01/Jan/2001")]
    for control in ("\x00", "\x09", "\x85", "\u2028"):
        assert control not in log


def test_django_log_filter_escapes_control_characters_of_the_values():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Bad: %s\n%s", ("/a\nb\u2028", 4), None
    )

    assert RedactPersonPaths().filter(record)
    assert record.getMessage() == "Bad: /a\\x0ab\\u2028\n4"  # the program's own \n stays


def test_gunicorn_access_log_format_leaves_out_query_and_referer():
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))

    log_format = conf["access_log_format"]
    assert "%(U)s" in log_format
    for atom in ("%(r)s", "%(q)s", "%(f)s", "}i", "}e"):
        assert atom not in log_format
    redact = conf["redact_url_secrets"]
    assert redact("GET /a?x=1&key=et_a_b&token=t HTTP/1.1") == (
        "GET /a?x=1&key=[redacted]&token=[redacted] HTTP/1.1"
    )


def _boom(request):
    raise RuntimeError("boom")


# Every route, plus one that fails (for the 500 path); the 500 handler is the project's.
urlpatterns = [path("boom", _boom), *root_urls.urlpatterns]
handler500 = root_urls.handler500


def _formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_django_logs_no_credential(client, caplog, user, tenant):
    _, ingest_key = api_key_create(tenant=tenant, name="web", role="ingest")
    _, token = AuthToken.objects.create_token(user)
    client.raise_request_exception = False
    caplog.set_level(logging.DEBUG)
    batch = '{"events": [{"event_name": "signup"}]}'
    secret_headers = {"HTTP_X_API_KEY": HEADER_KEY, "HTTP_AUTHORIZATION": f"Token {TOKEN}"}

    answers = [
        client.post(f"/api/eventlogs/batch/?key={ingest_key}", batch, "application/json"),
        client.get(f"/api/events/?key={URL_KEY}", **secret_headers),  # three: a 400
        client.get("/api/events/", HTTP_X_API_KEY=HEADER_KEY),
        client.get("/api/events/999999/", HTTP_AUTHORIZATION=f"Token {token}"),
        client.get(f"/boom?key={URL_KEY}", **secret_headers),
    ]

    assert [answer.status_code for answer in answers] == [200, 400, 401, 404, 500]
    logged = _formatted(caplog.records)
    assert "Internal Server Error: /boom" in logged
    assert "RuntimeError: boom" in logged
    assert "Not Found: /api/events/999999/" in logged
    for secret in (ingest_key, token, URL_KEY, HEADER_KEY, TOKEN):
        assert secret not in logged


# --- the admin ------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_sends_anonymous_visitors_to_its_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


@pytest.mark.django_db
def test_admin_refuses_a_user_who_is_not_staff(client, user, token_client):
    client.force_login(user)

    page = client.get("/admin/accounts/tenant/")
    with_token = token_client(user).get("/admin/")

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")
    assert with_token.status_code == 302


@pytest.mark.django_db
def test_admin_opens_for_staff(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert client.get("/admin/").status_code == 200
