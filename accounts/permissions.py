"""What an API key may do. User credentials (token, session) have full rights in
their tenant; an API key acts only where a view opts in, with the role it needs.

A view opts in with `api_key_roles`: a mapping from its action name (viewsets)
or HTTP method to the roles allowed, with an optional "default" entry.
"""

from collections.abc import Mapping

from rest_framework.permissions import BasePermission

from accounts.models import ApiKey

Role = ApiKey.Role
READ = frozenset({Role.READ, Role.ADMIN})
INGEST = frozenset({Role.INGEST, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
# The common case: reading needs a read key, anything that changes data an admin key.
READ_OR_ADMIN_WRITES: Mapping[str, frozenset] = {
    "GET": READ,
    "HEAD": READ,
    "OPTIONS": READ,
    "default": ADMIN,
}


def key_roles_for(view, request) -> frozenset:
    roles: Mapping[str, frozenset] = getattr(view, "api_key_roles", {})
    action = getattr(view, "action", None)
    if action in roles:
        return roles[action]
    return roles.get(request.method, roles.get("default", frozenset()))


class ApiKeyRolePermission(BasePermission):
    """403 when an API key's role is not among those the view allows for this request.
    (Views that do not opt in never see a key: ApiKeyAuthentication refuses it.)"""

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        allowed = key_roles_for(view, request)
        if key.role in allowed:
            return True
        needed = " or ".join(sorted(allowed)) or "a user login"
        self.message = f"This API key has the '{key.role}' role; this request needs {needed}."
        return False
