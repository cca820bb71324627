"""Liveness and readiness probes for load balancers: no credential needed."""

import logging
from collections.abc import Callable

from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve

from core.exceptions import read_only

logger = logging.getLogger(__name__)

# Ready means every database answers: events in "default", personal data in "pii".
PROBED = {"database": "default", "pii_database": "pii"}
PROBE_PATHS = frozenset({"/health/ping", "/health/ping/", "/health/ready", "/health/ready/"})


class HealthProbeMiddleware:
    """Answers the probes whatever the Host header: a load balancer checks a node by its
    address and docker's health check asks 127.0.0.1, neither of them in ALLOWED_HOSTS
    in production (a 400 there would mark a healthy node down). The probes reveal
    nothing host-specific. Placed before every middleware that validates the host
    (CommonMiddleware, CsrfViewMiddleware), after MetricsMiddleware, which counts them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in PROBE_PATHS:
            return self.get_response(request)
        # Resolved as Django would, so that the metrics label it by its route.
        request.resolver_match = match = resolve(request.path_info)
        return match.func(request, *match.args, **match.kwargs)


@read_only
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse("ping ok", safe=False)


@read_only
def ready(request: HttpRequest) -> JsonResponse:
    body: dict[str, str] = {"status": "ok"}
    for key, alias in PROBED.items():
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as exc:
            # The reason goes to the log, not to an unauthenticated caller: it names
            # hosts, ports and users.
            logger.warning("Readiness: database %s unavailable: %s", alias, exc)
            body |= {"status": "unavailable", key: "unavailable"}
        else:
            body[key] = connections[alias].vendor
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
