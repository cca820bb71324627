"""Liveness and readiness probes for load balancers: no credential needed."""

import logging

from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Ready means every database answers: events in "default", personal data in "pii".
PROBED = {"database": "default", "pii_database": "pii"}


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse("ping ok", safe=False)


@require_GET
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
