"""Create an API key for a tenant and print it (the only time it is shown)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ApiKey, Tenant, User
from accounts.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key: manage.py create_api_key --tenant SLUG|ID|USERNAME "
        "--role ingest|read|admin"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant",
            required=True,
            help="The tenant's slug or id (GET /api/tenant/, the dashboard), or the "
            "username of one of its users.",
        )
        parser.add_argument("--role", required=True, choices=ApiKey.Role.values)
        parser.add_argument("--name", default="", help="A label; default: '<role> key'.")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument(
            "--origin", action="append", default=[], help="Allowed browser origin (repeatable)."
        )

    def handle(self, *args, tenant, role, name, expires_in_days, origin, **options):
        owner = _tenant(tenant)
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        expires_at = (
            timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
        )
        key, secret = api_key_create(
            tenant=owner,
            name=name or f"{role} key",
            role=role,
            expires_at=expires_at,
            allowed_origins=origin,
        )
        self.stderr.write(f"Created {key} for tenant {owner.slug}. The key is shown only once:")
        self.stdout.write(secret)


def _tenant(name: str) -> Tenant:
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
