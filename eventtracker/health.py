"""Liveness and readiness probes for load balancers: no credential needed."""

from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

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
            body |= {"status": "unavailable", key: str(exc)}
        else:
            body[key] = connections[alias].vendor
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
