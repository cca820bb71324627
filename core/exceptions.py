"""Errors answered as JSON: DRF's exception handler with our additions, the Django-level
handlers for requests no view answers, and what counts as "the database is unavailable"
(a 503 with Retry-After, never a 500)."""

import logging
import sqlite3
from collections.abc import Callable
from functools import wraps
from typing import Any

import psycopg
from django import db
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.rest import PayloadTooLarge

logger = logging.getLogger(__name__)


class Unavailable(exceptions.APIException):
    """The database cannot be reached (down, restarting, failing over): try again soon.
    Nothing of the request was stored (its transaction never committed), so a retry
    with the same uuids is safe."""

    status_code = 503
    default_detail = "The service is briefly unavailable; retry after the given seconds."
    default_code = "unavailable"


UNAVAILABLE_RETRY_AFTER = 2  # seconds: a restart or a failover takes about that long
TRANSIENT_PG_ERRORS = (
    psycopg.errors.AdminShutdown,
    psycopg.errors.CrashShutdown,
    psycopg.errors.CannotConnectNow,
    psycopg.errors.QueryCanceled,  # statement_timeout
)


def exception_handler(exc, context) -> Response | None:
    """DRF's handler, plus: oversize bodies read lazily by Django become a JSON 413, a
    form of too many files or fields a 400 naming the limit, a 415 names the media types
    the route takes, and a lost database connection is a 503 with Retry-After instead of
    a 500."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if (too_many := too_many_parts(exc)) is not None:
        exc = exceptions.ParseError(too_many)
    if isinstance(exc, exceptions.UnsupportedMediaType) and (request := context.get("request")):
        # curl -d sends a form's type: say what to send instead.
        taken = ", ".join(parser.media_type for parser in request.parsers)
        exc = exceptions.UnsupportedMediaType(
            request.content_type, detail=f"{exc.detail} Send Content-Type: {taken}."
        )
    if database_unavailable(exc):
        logger.warning("Database unreachable, answering 503: %s", exc)
        exc = Unavailable()
        exc.wait = UNAVAILABLE_RETRY_AFTER  # DRF turns `wait` into Retry-After
    return drf_exception_handler(exc, context)


def database_unavailable(exc: BaseException) -> bool:
    """The database could not answer in time, rather than refused the query: a lost or
    refused connection, a server shutting down, a statement timeout, SQLite busy past
    its timeout. Query errors (a missing table, bad SQL) stay 500s."""
    if isinstance(exc, db.InterfaceError):
        return True
    if not isinstance(exc, db.OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        # Busy past the timeout, or interrupted by core.deadline.
        return "locked" in str(cause) or str(cause) == "interrupted"
    # psycopg raises the base class itself for connection failures; of its subclasses,
    # these mean "not now" rather than "never".
    return type(cause) is psycopg.OperationalError or isinstance(cause, TRANSIENT_PG_ERRORS)


def json_error(status: int, detail: str, **extra: Any) -> JsonResponse:
    """A JSON error outside DRF (URL not found, server error handlers)."""
    return JsonResponse({"detail": detail, **extra}, status=status)


def too_many_parts(exc: BaseException | None) -> str | None:
    """What a form over Django's limits of files or fields says (None: another error)."""
    if isinstance(exc, TooManyFilesSent):
        return f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files per request."
    if isinstance(exc, TooManyFieldsSent):
        return f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields per request."
    return None


# Django-level error handlers (outside DRF views): JSON like every other error.
def bad_request(request, exception=None) -> JsonResponse:
    return json_error(400, too_many_parts(exception) or "Bad request.")


def permission_denied(request, exception=None) -> JsonResponse:
    return json_error(403, "You do not have permission to perform this action.")


def not_found(request, exception=None) -> JsonResponse:
    return json_error(404, "Not found.", path=request.path)


READ_METHODS = ("GET", "HEAD")


def only_methods(
    methods: tuple[str, ...], refuse: Callable[[HttpRequest, list[str]], HttpResponse]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Django's require_http_methods with our own refusal: another method gets
    `refuse(request, methods)`, a 405 that says so with an Allow header (Django's is
    empty). The JSON routes and the dashboard's pages each pass their own renderer."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return refuse(request, list(methods))
            return view(request, *args, **kwargs)

        return checked

    return decorator


def json_not_allowed(request: HttpRequest, methods: list[str]) -> HttpResponse:
    response = json_error(405, f'Method "{request.method}" not allowed.')
    response["Allow"] = ", ".join(methods)
    return response


def read_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET and HEAD (load balancers probe with HEAD); any other method a JSON 405 with
    Allow. Django's require_GET answers an empty 405 and refuses HEAD, and a POST met
    the CSRF check's HTML 403 first: these routes take no form, so they need no CSRF
    protection."""
    return csrf_exempt(only_methods(READ_METHODS, json_not_allowed)(view))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a JSON 403 like every other error, except for a browser's form
    (it accepts text/html), which keeps Django's page explaining the cookie."""
    if "text/html" in request.headers.get("Accept", ""):
        return csrf.csrf_failure(request, reason)
    return json_error(403, f"CSRF verification failed: {reason}")


@csrf_exempt  # a POST to no route is a 404, not a CSRF failure page
def unmatched_api_path(request) -> JsonResponse:
    """The last API route: a path no other route matched, whatever the method."""
    return not_found(request)


def server_error(request) -> JsonResponse:
    return json_error(500, "Internal server error.")
