"""OpenAPI descriptions of our authentication classes (drf-spectacular extensions).
Imported by AccountsConfig.ready() so the schema generator finds them."""

from drf_spectacular.authentication import SessionScheme, TokenScheme


class TenantTokenScheme(TokenScheme):
    target_class = "accounts.authentication.TenantTokenAuthentication"


class TenantSessionScheme(SessionScheme):
    target_class = "accounts.authentication.TenantSessionAuthentication"
