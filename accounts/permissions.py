"""What a credential may do. A user acts with their role in the tenant (owner, member,
viewer: UserRolePermission); an API key acts only where a view opts in, with the role
it needs (ApiKeyRolePermission).

A view opts in with `api_key_roles`: a mapping from its action name (viewsets)
or HTTP method to the roles allowed, with an optional "default" entry.
"""

from collections.abc import Mapping

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from accounts.models import ApiKey, User


def reads_and_writes(readers: frozenset, writers: frozenset) -> Mapping[str, frozenset]:
    """A view's roles: `readers` for GET, HEAD and OPTIONS, `writers` for the rest."""
    return {"GET": readers, "HEAD": readers, "OPTIONS": readers, "default": writers}


Role = ApiKey.Role
READ = frozenset({Role.READ, Role.ADMIN})
INGEST = frozenset({Role.INGEST, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
# The common case: reading needs a read key, anything that changes data an admin key.
READ_OR_ADMIN_WRITES = reads_and_writes(READ, ADMIN)
# Reading only (other methods: a user login).
READ_ONLY: Mapping[str, frozenset] = {"GET": READ, "HEAD": READ, "OPTIONS": READ}


def handles(view, request) -> bool:
    """Whether the view answers the request's method. One it does not answer gets its 405
    from the view, whatever the credential's role: a role is never asked for a method
    that no role may use."""
    method = request.method.lower()
    return method in view.http_method_names and hasattr(view, method)


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
        if not isinstance(key, ApiKey) or not handles(view, request):
            return True
        allowed = key_roles_for(view, request)
        if key.role in allowed:
            return True
        needed = " or ".join(sorted(allowed)) or "a user login"
        self.message = f"This API key has the '{key.role}' role; this request needs {needed}."
        return False


UserRole = User.Role
EVERY_ROLE = frozenset(UserRole)
WRITERS = frozenset({UserRole.OWNER, UserRole.MEMBER})
OWNERS = frozenset({UserRole.OWNER})
# For views whose changes are the owner's to make (the team, the API keys): anyone reads.
OWNER_WRITES = reads_and_writes(EVERY_ROLE, OWNERS)


def user_roles_for(view, request) -> frozenset:
    roles: Mapping[str, frozenset] | None = getattr(view, "user_roles", None)
    if roles is None:
        return EVERY_ROLE if request.method in SAFE_METHODS else WRITERS
    return roles.get(request.method, roles.get("default", frozenset()))


class UserRolePermission(BasePermission):
    """403 when a user's role in their tenant does not allow the request: viewers read,
    members read and write the tenant's data, owners also manage the team and the API
    keys (views say so with `user_roles`, a mapping like `api_key_roles`). Views marked
    `own_account` (a user's own tokens, logout) are open to every role. API keys have
    roles of their own (ApiKeyRolePermission)."""

    def has_permission(self, request, view) -> bool:
        role = getattr(request.user, "role", None)
        if role is None or getattr(view, "own_account", False) or not handles(view, request):
            return True
        allowed = user_roles_for(view, request)
        if role in allowed:
            return True
        needed = " or ".join(sorted(allowed)) or "a platform administrator"
        self.message = f"Your role in this tenant is '{role}'; this request needs {needed}."
        return False


def staff_may(user, model: str, needed: str = "view") -> bool:
    """Whether a staff member may `needed` (view, change, delete) rows of the accounts
    app's `model` (user, tenant) across tenants, by the Django permissions the admin asks
    for the same (changing implies viewing; superusers have every permission)."""
    if not user.is_staff:
        return False
    if needed == "view" and user.has_perm(f"accounts.change_{model}"):
        return True
    return user.has_perm(f"accounts.{needed}_{model}")


class YourselfOrPermittedStaff(IsAuthenticated):
    """`/auth/users/` (djoser's `user` and `user_list` permissions): your own account, or
    another's for a staff member with the permission to view, change or delete users.
    djoser's own let any staff member (`is_staff` alone, whom the admin shows nothing)
    read every account and change its email or delete it."""

    NEEDED = {"PUT": "change", "PATCH": "change", "DELETE": "delete"}

    def has_object_permission(self, request, view, obj) -> bool:
        if obj.pk == request.user.pk:
            return True
        return staff_may(request.user, "user", self.NEEDED.get(request.method, "view"))
