"""OpenAPI post-processing: document the error answers every route can give. And the
ReDoc bundle the docs page loads.

Views document their own success shapes and specific errors; the errors that
come from global policy (authentication, tenancy, body limits, bad input) are
added here once, so the schema states every status code a client can receive.
An error a view documents with a description only gets its JSON body here too
(every error of the API is JSON: `{"field": ["message"]}` or `{"detail": "…"}`).
"""

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import drf_spectacular_sidecar
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from drf_spectacular.views import SpectacularAPIView

from core.exceptions import read_only
from core.rest import FastJSONRenderer


def component(name: str) -> dict[str, str]:
    """A reference to a schema component (ours below, or one a serializer generates)."""
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = component("Error")
FIELD_ERRORS = component("FieldErrors")
BAD_INPUT = {"anyOf": [FIELD_ERRORS, ERROR]}
MESSAGES = {"type": "array", "items": {"type": "string"}}
SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Each bad field or parameter, with its messages.",
        "additionalProperties": MESSAGES,
    },
}
BODY_METHODS = {"post", "put", "patch"}
NO_BODY = "No response body"  # drf-spectacular's description of a response without content


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            errors = _errors_for(path, method, operation)
            for status, response in responses.items():
                if _is_error(status) and "content" not in response:
                    default, schema = errors.get(status, ("", ERROR))
                    description = response.get("description", "")
                    if description in ("", NO_BODY):  # an OpenApiResponse() without one
                        description = default
                    response.update(_json(description, schema))
            for status, (description, schema) in errors.items():
                responses.setdefault(status, _json(description, schema))
            responses.setdefault("414", URI_TOO_LONG)
    return result


# Refused by gunicorn itself, before the app (its limit_request_line): an HTML page.
URI_TOO_LONG = {"description": "Request line (method, path and query) over 4094 bytes"}


def _errors_for(path: str, method: str, operation: dict) -> dict[str, tuple[str, dict]]:
    """Every operation authenticates whatever credential comes with it (open routes
    too: a bad token is a 401 there as well), may be throttled, and may find the
    database unavailable; an unknown object is a 404 anywhere, an unknown `format` a 400."""
    errors: dict[str, tuple[str, dict]] = {
        "400": ("Bad input: the bad fields or parameters (`format` too), or a detail", BAD_INPUT),
        "401": ("Missing or invalid credentials", ERROR),
        "403": ("Blocked tenant, or the credential may not do this", ERROR),
        "404": ("Not found (another tenant's objects included)", ERROR),
        "429": ("Over the rate limit: retry after Retry-After seconds", ERROR),
        "503": ("Database unavailable or too slow: retry after Retry-After seconds", ERROR),
    }
    if method in BODY_METHODS:
        errors["411"] = ("A body without Content-Length (sent in chunks)", ERROR)
        errors["413"] = ("Request body too large", ERROR)
        errors["415"] = ("Unsupported media type", ERROR)
    return errors


def _is_error(status: str) -> bool:
    """A 4xx or 5xx the app answers (not URI_TOO_LONG's, which gunicorn sends)."""
    return status[:1] in {"4", "5"} and status != "414"


def _json(description: str, schema: dict) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# ReDoc's bundle draws a "powered by" logo from its makers' CDN: the one asset of the
# docs not served from here, and one the Content-Security-Policy refuses (a console
# error, and a visitor's address sent elsewhere). The bundle is served with that logo
# as a small inline image instead (SPECTACULAR_SETTINGS["REDOC_DIST"] points here).
REDOC_BUNDLE = (
    Path(drf_spectacular_sidecar.__file__).parent
    / "static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
)
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


@cache
def _redoc_bundle() -> tuple[bytes, str]:
    body = REDOC_BUNDLE.read_bytes().replace(REDOC_LOGO, LOCAL_LOGO)
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


@read_only
def redoc_bundle(request: HttpRequest) -> HttpResponse:
    """ReDoc's standalone bundle, with no request to another host."""
    body, etag = _redoc_bundle()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if etag in request.headers.get("If-None-Match", ""):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, content_type="text/javascript; charset=utf-8", headers=headers)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, in YAML or JSON as asked; its errors (an `Accept` or a
    `format` it cannot serve: 406, 400) are JSON, as every other error of the API, not
    an error object written in YAML."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = FastJSONRenderer()
        self.request.accepted_media_type = FastJSONRenderer.media_type
        return response
