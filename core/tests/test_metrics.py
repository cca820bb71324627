"""Prometheus metrics, scraped from a running gunicorn (two workers, multiprocess mode)
after real requests; and who may scrape them."""

import datetime as dt
import ipaddress

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventtracker.tests.live_server import call, live_gunicorn, sign_up


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(server: str) -> dict:
    status, text = call(f"{server}/metrics")
    assert status == 200
    return _samples(text.decode())


@pytest.fixture
def server(tmp_path):
    """gunicorn with two workers on a fresh SQLite database; yields its base URL."""
    with live_gunicorn(tmp_path, workers=2, METRICS_TOKEN="scrape-token") as base:
        yield base


def test_metrics_count_requests_by_route_template_across_workers(server):
    token = sign_up(server, "m", "alpine12x")
    before = _scrape(server)
    pings = 12  # spread over both workers by the kernel; the scrape must see them all
    for _ in range(pings):
        call(f"{server}/health/ping")
    created = [
        call(f"{server}/api/eventlogs/", method="POST", body={"event_name": "a"}, token=token)
        for _ in range(3)
    ]
    log_id = created[0][1]["id"]
    call(f"{server}/api/eventlogs/{log_id}", token=token)
    call(f"{server}/api/eventlogs/", method="POST", body={"event_name": ""}, token=token)
    batch = {"events": [{"event_name": "b"}, {"event_name": "b", "count": 0}]}
    call(f"{server}/api/eventlogs/batch/", method="POST", body=batch, token=token)
    call(f"{server}/no/such/page")
    malformed = b'{"events": ['
    call(f"{server}/api/eventlogs/batch/", method="POST", raw=malformed, token=token)
    wrong_password = {"username": "m", "password": "not-it"}
    call(f"{server}/auth/token/login/", method="POST", body=wrong_password)

    after = _scrape(server)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests, errors = "eventtracker_http_requests_total", "eventtracker_http_errors_total"
    eventlogs = "api/eventlogs/?$"
    assert delta(requests, method="GET", route="health/ping/?$", status="200") == pings
    assert delta(requests, method="POST", route=eventlogs, status="201") == len(created)
    assert delta(errors, method="POST", route=eventlogs, status="400") == 1
    assert delta(errors, method="GET", route="<unmatched>", status="404") == 1
    assert delta("eventtracker_login_failures_total") == 1
    routes = {dict(labels).get("route") for name, labels in after if name == requests}
    assert not any(str(log_id) in route for route in routes), "raw paths must not be labels"
    outcomes = {
        (outcome, reason): delta(
            "eventtracker_events_ingested_total", outcome=outcome, reason=reason
        )
        for outcome, reason in [
            ("accepted", ""),
            ("duplicate", ""),
            ("rejected", "invalid_field"),
            ("rejected", "malformed_json"),
        ]
    }
    assert outcomes == {
        ("accepted", ""): 4.0,
        ("duplicate", ""): 0.0,
        ("rejected", "invalid_field"): 2.0,
        ("rejected", "malformed_json"): 1.0,
    }
    latency = "eventtracker_http_request_duration_seconds_count"
    assert delta(latency, method="GET", route="health/ping/?$") == pings


@pytest.mark.django_db
def test_invented_methods_share_one_label(client):
    """A client without a token must not add series by inventing method names."""
    requests = "eventtracker_http_requests_total"
    before = _samples(client.get("/metrics").content.decode())

    for method in ("FOOA", "FOOB", "BREW"):
        client.generic(method, "/api/events/")
    client.get("/health/ping")

    after = _samples(client.get("/metrics").content.decode())
    methods = {dict(labels).get("method") for name, labels in after if name == requests}
    other = {
        labels: value - before.get((name, labels), 0.0)
        for (name, labels), value in after.items()
        if name == requests and dict(labels)["method"] == "other"
    }
    assert methods.isdisjoint({"FOOA", "FOOB", "BREW"})
    assert sum(other.values()) == 3
    assert "GET" in methods


@pytest.mark.django_db
def test_ingestion_without_a_credential_counts_only_as_a_401(client):
    """As the README says: no tenant's items, so no ingested items either."""
    before = _samples(client.get("/metrics").content.decode())

    response = client.post("/api/eventlogs/", {"event_name": "a"}, content_type="application/json")

    after = _samples(client.get("/metrics").content.decode())
    ingested = {key for key in after if key[0] == "eventtracker_events_ingested_total"}
    refused = {"method": "POST", "route": "api/eventlogs/?$", "status": "401"}
    requests = "eventtracker_http_requests_total"
    assert response.status_code == 401
    assert all(after[key] == before.get(key, 0.0) for key in ingested)
    assert _value(after, requests, **refused) - _value(before, requests, **refused) == 1


@pytest.mark.django_db
def test_metrics_refuse_other_networks_without_the_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = "scrape-token"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    slash = client.get("/metrics/", HTTP_AUTHORIZATION="Bearer scrape-token")
    lowercase = client.get("/metrics", HTTP_AUTHORIZATION="bearer scrape-token")
    other_scheme = client.get("/metrics", HTTP_AUTHORIZATION="Token scrape-token")

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Metrics are only served")
    assert wrong.status_code == 403
    assert allowed.status_code == 200
    assert b"eventtracker_http_requests_total" in allowed.content
    assert slash.status_code == 200
    assert lowercase.status_code == 200  # scheme names are case-insensitive (RFC 9110)
    assert other_scheme.status_code == 403
    assert client.get("/metrics/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        (None, 200),  # the proxy's own scrape, or Prometheus on this host
        ("203.0.113.9", 403),  # an outsider through the proxy on this host
        ("127.0.0.1, 203.0.113.9", 403),  # a spoofed left part: the proxy saw 203.0.113.9
        ("127.0.0.1", 200),  # a local client through the local proxy
    ],
)
def test_metrics_read_the_client_through_trusted_proxies(client, settings, forwarded_for, status):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    settings.METRICS_TOKEN = ""
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)

    assert response.status_code == status


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        (None, 200),  # Prometheus on this host, scraping directly
        ("203.0.113.9", 403),  # an outsider through a proxy on this host, not listed
        ("127.0.0.1", 403),  # the same proxy: what it forwards cannot be told apart
    ],
)
def test_metrics_refuse_what_a_proxy_not_listed_forwards(client, settings, forwarded_for, status):
    """Without TRUSTED_PROXIES, a proxy on this host reached /metrics as 127.0.0.1 for
    anyone on the internet."""
    settings.TRUSTED_PROXIES = []
    settings.METRICS_TOKEN = ""
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)

    assert response.status_code == status


@pytest.mark.django_db
def test_job_lag_gauges_come_from_the_jobs_state(client):
    from django.utils import timezone

    from stats.models import JobState

    now = timezone.now()
    JobState.objects.create(
        name="compute_user_activity",
        last_run_at=now,
        last_success_at=now - dt.timedelta(seconds=90),
        watermark=now - dt.timedelta(hours=5),
    )
    JobState.objects.create(name="purge_expired", last_run_at=now, last_error="boom")

    samples = _samples(client.get("/metrics").content.decode())

    success = "eventtracker_job_last_success_age_seconds"
    lag = _value(samples, "eventtracker_job_watermark_lag_seconds", job="compute_user_activity")
    assert 90 <= _value(samples, success, job="compute_user_activity") < 120
    assert _value(samples, success, job="purge_expired") == float("inf")
    assert 5 * 3600 <= lag < 5 * 3600 + 30
