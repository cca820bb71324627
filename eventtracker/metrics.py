"""Prometheus metrics: HTTP requests by route template, latency, ingestion outcomes.

Under gunicorn every worker is a process, so metrics use prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by gunicorn.conf.py) and /metrics
merges the files of all workers. Labels carry the route *template* (never the raw
path, whose ids and names would explode the series count).
"""

import ipaddress
import os
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from eventtracker.rest import json_error

HTTP_REQUESTS = Counter(
    "eventtracker_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_ERRORS = Counter(
    "eventtracker_http_errors_total",
    "HTTP requests answered with a 4xx or 5xx status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "eventtracker_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_INGESTED = Counter(
    "eventtracker_events_ingested_total",
    "Ingested event items by outcome (accepted, duplicate, rejected) and, for rejected "
    "items, reason.",
    ["outcome", "reason"],
)
UNMATCHED = "<unmatched>"


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED


class MetricsMiddleware:
    """Counts every request by method, route template and status, and times it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        begin = time.perf_counter()
        response = self.get_response(request)
        route, method = route_of(request), request.method or ""
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - begin)
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        if response.status_code >= 400:
            HTTP_ERRORS.labels(method, route, str(response.status_code)).inc()
        return response


def count_ingested(items: Mapping[tuple[str, str], int]) -> None:
    """`items`: (outcome, reason) → number of items; reason is "" unless rejected."""
    for (outcome, reason), number in items.items():
        if number:
            EVENTS_INGESTED.labels(outcome, reason).inc(number)


class JobLagCollector:
    """Periodic jobs' lag, read from the database at scrape time (any process may scrape,
    the jobs run in another): seconds since each job's last success, and how far the
    user-activity watermark trails now. (The HourlyCount rollup has no lag to report: it
    is written in the ingest transaction.)"""

    def describe(self) -> list[GaugeMetricFamily]:
        return list(self._families())

    def collect(self):
        from stats.jobs import job_lags  # stats imports events, which imports this module

        success, watermark = self._families()
        try:
            lags = job_lags()
        except DatabaseError:
            lags = {}  # the HTTP metrics are still worth serving when the database is down
        for name, lag in lags.items():
            if lag.since_success is not None:
                success.add_metric([name], lag.since_success)
            if lag.watermark is not None:
                watermark.add_metric([name], lag.watermark)
        yield success
        yield watermark

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "eventtracker_job_last_success_age_seconds",
                "Seconds since the job last succeeded (+Inf: it ran but never succeeded).",
                labels=["job"],
            ),
            GaugeMetricFamily(
                "eventtracker_job_watermark_lag_seconds",
                "How far the job's watermark (everything before it is computed) trails now.",
                labels=["job"],
            ),
        )


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a bearer token (METRICS_TOKEN) or a client address
    in METRICS_ALLOWED_NETWORKS; anyone else gets 403."""
    if not _allowed(request):
        return json_error(403, "Metrics are only served to allowed networks or with the token.")
    jobs = CollectorRegistry()
    jobs.register(JobLagCollector())
    body = generate_latest(_registry()) + generate_latest(jobs)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and constant_time_compare(header, f"Bearer {token}"):
        return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in settings.METRICS_ALLOWED_NETWORKS)
