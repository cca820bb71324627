"""What management commands take on their command line."""

from django.core.management.base import CommandError

from accounts.models import Tenant, User

TENANT_HELP = (
    "The tenant's slug or id (GET /api/tenant/, the dashboard), or the username of one of "
    "its users."
)


def tenant_argument(name: str) -> Tenant:
    """The tenant with this slug or id, else the tenant of the user with this username."""
    lookup = {"pk": int(name)} if name.isdigit() else {"slug": name}
    found = Tenant.objects.filter(**lookup).first()
    if found is None:
        user = User.objects.select_related("tenant").filter(username=name).first()
        found = user.tenant if user is not None else None
    if found is None:
        raise CommandError(
            f"No tenant with the slug or id '{name}', and no user named so. "
            "GET /api/tenant/ (or the dashboard) shows your tenant's slug."
        )
    return found
