"""Prometheus metrics: HTTP requests by route template, latency, ingestion outcomes.

Under gunicorn every worker is a process, so metrics use prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by gunicorn.conf.py) and /metrics
merges the files of all workers. Labels carry the route *template* (never the raw
path, whose ids and names would explode the series count).
"""

import os
import time
from collections.abc import Callable, Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from core.clients import client_address, forwarded_by_a_stranger
from core.exceptions import json_error, read_only

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
# Any client may send any method name: each new one would add series without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def route_of(request: HttpRequest) -> str:
    """The matched route's template, without the "^" only a top-level regex route keeps
    (an included one loses it): `health/ping/?$`, `api/eventlogs/?$`."""
    match = getattr(request, "resolver_match", None)
    return match.route.removeprefix("^") if match is not None and match.route else UNMATCHED


def method_of(request: HttpRequest) -> str:
    """The request's method if it is a standard one, else "other" (a label must not
    take whatever name a client invents)."""
    return request.method if request.method in KNOWN_METHODS else OTHER_METHOD


class MetricsMiddleware:
    """Counts every request by method, route template and status, and times it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        begin = time.perf_counter()
        response = self.get_response(request)
        route, method = route_of(request), method_of(request)
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


# Collectors read at scrape time (any process may scrape): apps register theirs in
# AppConfig.ready(), so this module needs to know none of them.
_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Have `collector` (e.g. gauges read from the database) collected on every scrape."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)


def scrape_collectors() -> tuple[Collector, ...]:
    return tuple(_scrape_collectors)


@read_only
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a bearer token (METRICS_TOKEN) or a client address
    in METRICS_ALLOWED_NETWORKS; anyone else gets 403."""
    if not _allowed(request):
        return json_error(403, "Metrics are only served to allowed networks or with the token.")
    scraped = CollectorRegistry()
    for collector in scrape_collectors():
        scraped.register(collector)
    body = generate_latest(_registry()) + generate_latest(scraped)
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
    # The scheme's name is case-insensitive (RFC 9110 §11.1): "bearer" is "Bearer".
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if token and scheme.lower() == "bearer" and constant_time_compare(credentials.strip(), token):
        return True
    # Through the trusted proxies, as the blocklists read it: behind a proxy on this
    # host the socket peer is always an allowed 127.0.0.1; through a proxy not listed,
    # nobody is (Prometheus scrapes directly and forwards no address).
    client = client_address(request)
    if client is None or forwarded_by_a_stranger(request):
        return False
    return any(client in network for network in settings.METRICS_ALLOWED_NETWORKS)
