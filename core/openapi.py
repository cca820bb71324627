"""OpenAPI post-processing: document the error answers every route can give.

Views document their own success shapes and specific errors; the errors that
come from global policy (authentication, tenancy, body limits, bad input) are
added here once, so the schema states every status code a client can receive.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import extend_schema


def component(name: str) -> dict[str, str]:
    """A reference to a schema component (ours below, or one a serializer generates)."""
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = component("Error")
FIELD_ERRORS = component("FieldErrors")
BAD_INPUT = {"anyOf": [FIELD_ERRORS, ERROR]}
SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Each bad field or parameter, with its messages.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
}
BODY_METHODS = {"post", "put", "patch"}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, (description, schema) in _errors_for(path, method, operation).items():
                responses.setdefault(status, _json(description, schema))
    return result


def _errors_for(path: str, method: str, operation: dict) -> dict[str, tuple[str, dict]]:
    """Every operation authenticates whatever credential comes with it (open routes
    too: a bad token is a 401 there as well), may be throttled, and may find the
    database unavailable; an unknown `format` or object is a 404 anywhere."""
    errors: dict[str, tuple[str, dict]] = {
        "400": ("Bad input: the bad fields or parameters, or a detail", BAD_INPUT),
        "401": ("Missing or invalid credentials", ERROR),
        "403": ("Blocked tenant, or the credential may not do this", ERROR),
        "404": ("Not found (another tenant's objects included), or an unknown format", ERROR),
        "429": ("Over the rate limit: retry after Retry-After seconds", ERROR),
        "503": ("Database unavailable or too slow: retry after Retry-After seconds", ERROR),
    }
    if method in BODY_METHODS:
        errors["413"] = ("Request body too large", ERROR)
        errors["415"] = ("Unsupported media type", ERROR)
    return errors


def _json(description: str, schema: dict) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class DjoserTokenLogoutView(OpenApiViewExtension):
    """djoser's logout declares a bare `Serializer` (no fields, no component name), which
    drf-spectacular reports as a warning, and `check --deploy` with it: no body, 204."""

    target_class = "djoser.views.TokenDestroyView"

    def view_replacement(self):
        @extend_schema(request=None, responses={204: None})
        class TokenDestroyView(self.target_class):
            pass

        return TokenDestroyView
