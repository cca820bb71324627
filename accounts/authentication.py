"""Credentials → (user, auth), with the tenant loaded and checked once per request.

A blocked (inactive) tenant is refused here with 403, so every authenticated
route — ours and djoser's — refuses it the same way; only logging in stays open.
"""

from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.models import User

TENANT_BLOCKED = "This tenant is blocked; contact the platform administrator."


def ensure_tenant_active(user: User) -> None:
    if not user.tenant.is_active:
        raise exceptions.PermissionDenied(TENANT_BLOCKED)


class TenantTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` (djoser); answers 401 with `WWW-Authenticate: Token`."""

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user__tenant").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        ensure_tenant_active(token.user)
        return token.user, token


class TenantSessionAuthentication(SessionAuthentication):
    """Session login (browsable API, admin); CSRF enforced as in DRF."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            ensure_tenant_active(result[0])
        return result
