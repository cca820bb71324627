"""OpenAPI descriptions of our authentication classes (drf-spectacular extensions).
Imported by AccountsConfig.ready() so the schema generator finds them."""

from drf_spectacular.authentication import SessionScheme, TokenScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TenantTokenScheme(TokenScheme):
    target_class = "accounts.authentication.TenantTokenAuthentication"


class TenantSessionScheme(SessionScheme):
    target_class = "accounts.authentication.TenantSessionAuthentication"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "An API key (`et_…`); `Authorization: Api-Key <key>` works too. "
            "Roles: ingest (send events), read (lists and stats), admin (everything).",
        }
