"""OpenAPI post-processing: document the error answers every route can give.

Views document their own success shapes and specific errors; the errors that
come from global policy (authentication, tenancy, body limits, bad input) are
added here once, so the schema states every status code a client can receive.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import extend_schema

ERROR = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}
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
    errors: dict[str, tuple[str, dict]] = {}
    security = operation.get("security")
    if security and {} not in security:
        errors["401"] = ("Missing or invalid credentials", ERROR)
        errors["403"] = ("Blocked tenant, or the credential lacks the needed role", ERROR)
    if "{" in path:
        errors["404"] = ("Not found (another tenant's objects included)", ERROR)
    if method in BODY_METHODS:
        errors["400"] = ("Invalid body: the bad fields, or a malformed-JSON detail", FIELD_ERRORS)
        errors["413"] = ("Request body too large", ERROR)
        errors["415"] = ("Unsupported media type", ERROR)
    elif any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        errors["400"] = ("Invalid query parameters", FIELD_ERRORS)
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
