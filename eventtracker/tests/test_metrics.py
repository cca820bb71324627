"""Prometheus metrics, scraped from a running gunicorn (two workers, multiprocess mode)
after real requests; and who may scrape them."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventtracker.tests.live_server import free_port, get_until_up, stop

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _scrape(server: str) -> dict:
    status, text = _request(f"{server}/metrics")
    assert status == 200
    return _samples(text.decode())


def _request(url: str, *, method: str = "GET", body: dict | None = None, token: str = ""):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - local URL
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server(tmp_path):
    """gunicorn with two workers on a fresh SQLite database; yields its base URL."""
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "test",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{tmp_path / 'pii.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "METRICS_TOKEN": "scrape-token",
    }
    (tmp_path / "metrics").mkdir()
    for database in ("default", "pii"):
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "manage.py", "migrate", "--database", database, "-v", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
            timeout=120,
        )
    port = free_port()
    env |= {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            get_until_up(
                f"{base}/health/ping", process=process, log_path=log_path, deadline_seconds=30
            )
            yield base
        finally:
            stop(process)


def test_metrics_count_requests_by_route_template_across_workers(server):
    account = {"username": "m", "password": "alpine12x"}
    _request(f"{server}/auth/users/", method="POST", body=account)
    _, body = _request(f"{server}/auth/token/login/", method="POST", body=account)
    token = json.loads(body)["auth_token"]
    before = _scrape(server)
    pings = 12  # spread over both workers by the kernel; the scrape must see them all
    for _ in range(pings):
        _request(f"{server}/health/ping")
    created = [
        _request(f"{server}/api/eventlogs/", method="POST", body={"event_name": "a"}, token=token)
        for _ in range(3)
    ]
    log_id = json.loads(created[0][1])["id"]
    _request(f"{server}/api/eventlogs/{log_id}", token=token)
    _request(f"{server}/api/eventlogs/", method="POST", body={"event_name": ""}, token=token)
    batch = {"events": [{"event_name": "b"}, {"event_name": "b", "count": 0}]}
    _request(f"{server}/api/eventlogs/batch/", method="POST", body=batch, token=token)
    _request(f"{server}/no/such/page")

    after = _scrape(server)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests, errors = "eventtracker_http_requests_total", "eventtracker_http_errors_total"
    eventlogs = "api/eventlogs/?$"
    assert delta(requests, method="GET", route="health/ping", status="200") == pings
    assert delta(requests, method="POST", route=eventlogs, status="201") == len(created)
    assert delta(errors, method="POST", route=eventlogs, status="400") == 1
    assert delta(errors, method="GET", route="<unmatched>", status="404") == 1
    routes = {dict(labels).get("route") for name, labels in after if name == requests}
    assert not any(str(log_id) in route for route in routes), "raw paths must not be labels"
    outcomes = {
        outcome: delta("eventtracker_events_ingested_total", outcome=outcome)
        for outcome in ("accepted", "duplicate", "rejected")
    }
    assert outcomes == {"accepted": 4.0, "duplicate": 0.0, "rejected": 2.0}
    latency = "eventtracker_http_request_duration_seconds_count"
    assert delta(latency, method="GET", route="health/ping") == pings


def test_metrics_refuse_other_networks_without_the_token(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_TOKEN = "scrape-token"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Metrics are only served")
    assert wrong.status_code == 403
    assert allowed.status_code == 200
    assert b"eventtracker_http_requests_total" in allowed.content
