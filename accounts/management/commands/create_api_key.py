"""Create an API key for a tenant and print it (the only time it is shown)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.management.arguments import TENANT_HELP, tenant_argument
from accounts.models import ApiKey
from accounts.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key: manage.py create_api_key --tenant SLUG|ID|USERNAME "
        "--role ingest|read|admin"
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help=TENANT_HELP)
        parser.add_argument("--role", required=True, choices=ApiKey.Role.values)
        parser.add_argument("--name", default="", help="A label; default: '<role> key'.")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument(
            "--origin", action="append", default=[], help="Allowed browser origin (repeatable)."
        )

    def handle(self, *args, tenant, role, name, expires_in_days, origin, **options):
        owner = tenant_argument(tenant)
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
