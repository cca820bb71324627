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
    "Ingested event items by outcome (accepted, duplicate, rejected).",
    ["outcome"],
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


def count_ingested(statuses: Mapping[str, int]) -> None:
    for outcome, number in statuses.items():
        if number:
            EVENTS_INGESTED.labels(outcome).inc(number)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a bearer token (METRICS_TOKEN) or a client address
    in METRICS_ALLOWED_NETWORKS; anyone else gets 403."""
    if not _allowed(request):
        return json_error(403, "Metrics are only served to allowed networks or with the token.")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


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
