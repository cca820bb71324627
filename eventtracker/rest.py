"""REST framework policy pieces named once in settings.REST_FRAMEWORK.

Parser, renderer, pagination, the exception handler and the strict-serializer
mixin: everything every API view shares, nothing domain-specific.
"""

import logging
import sqlite3
from typing import Any

import orjson
import psycopg
from django import db
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.filters import SearchFilter
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from eventtracker import jsonbody

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
MAX_SEARCH_TERMS = 20


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "too_large"


class StrictJSONParser(BaseParser):
    """JSON parser that never lets bad input become a 500 (see eventtracker.jsonbody)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            # Bounded read: a chunked body without Content-Length cannot exhaust memory.
            body = stream.read(limit + 1) if stream is not None else b""
        except RequestDataTooBig:
            raise PayloadTooLarge() from None
        if len(body) > limit:
            raise PayloadTooLarge()
        try:
            return jsonbody.loads(body)
        except jsonbody.JSONBodyError as exc:
            raise exceptions.ParseError(str(exc)) from None


class FastJSONRenderer(JSONRenderer):
    """orjson rendering; falls back to DRF's encoder for types orjson does not know."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)


class StrictFieldsMixin:
    """Serializer mixin: unknown input fields are a 400, not silently dropped."""

    # Sent by the browsable API's HTML forms, never meant as data.
    _FORM_KEYS = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = set(data.keys()) - set(self.fields) - self._FORM_KEYS
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in sorted(unknown)}
                )
        return super().to_internal_value(data)


class BoundedSearchFilter(SearchFilter):
    """DRF's `?search=` with at most MAX_SEARCH_TERMS terms. Each term adds a nested AND
    to the WHERE clause; past ~900 SQLite refuses the expression tree (a 500)."""

    def get_search_terms(self, request):
        terms = super().get_search_terms(request)
        if len(terms) > MAX_SEARCH_TERMS:
            message = f"At most {MAX_SEARCH_TERMS} search terms."
            raise exceptions.ValidationError({self.search_param: [message]})
        return terms


class HeaderLimitOffsetPagination(LimitOffsetPagination):
    """Lists stay plain JSON arrays (seed 001 prints `[]`); paging lives in headers:
    `Link: <…>; rel="next"` and `X-Total-Count`. `?limit` above the cap is a 400."""

    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request):
        return self._non_negative_int(request, self.limit_query_param, self.default_limit, 1)

    def get_offset(self, request):
        return self._non_negative_int(request, self.offset_query_param, 0, 0)

    def _non_negative_int(self, request, name: str, default: int, minimum: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise exceptions.ValidationError({name: ["A whole number is required."]}) from None
        if value < minimum or (name == self.limit_query_param and value > self.max_limit):
            upper = f" and at most {self.max_limit}" if name == self.limit_query_param else ""
            raise exceptions.ValidationError({name: [f"Must be at least {minimum}{upper}."]})
        return value

    def get_paginated_response(self, data):
        links = []
        if (next_url := self.get_next_link()) is not None:
            links.append(f'<{next_url}>; rel="next"')
        if (previous_url := self.get_previous_link()) is not None:
            links.append(f'<{previous_url}>; rel="prev"')
        headers = {"X-Total-Count": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema):
        return schema


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
    """DRF's handler, plus: oversize bodies read lazily by Django become a JSON 413, and
    a lost database connection a 503 with Retry-After instead of a 500."""
    # Imported here: rest_framework.views loads the renderers named in settings, this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
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
        # Busy past the timeout, or interrupted by eventtracker.deadline.
        return "locked" in str(cause) or str(cause) == "interrupted"
    # psycopg raises the base class itself for connection failures; of its subclasses,
    # these mean "not now" rather than "never".
    return type(cause) is psycopg.OperationalError or isinstance(cause, TRANSIENT_PG_ERRORS)


def json_error(status: int, detail: str, **extra: Any) -> JsonResponse:
    """A JSON error outside DRF (URL not found, server error handlers)."""
    return JsonResponse({"detail": detail, **extra}, status=status)


# Django-level error handlers (outside DRF views): JSON like every other error.
def bad_request(request, exception=None) -> JsonResponse:
    return json_error(400, "Bad request.")


def permission_denied(request, exception=None) -> JsonResponse:
    return json_error(403, "You do not have permission to perform this action.")


def not_found(request, exception=None) -> JsonResponse:
    return json_error(404, "Not found.", path=request.path)


def server_error(request) -> JsonResponse:
    return json_error(500, "Internal server error.")
