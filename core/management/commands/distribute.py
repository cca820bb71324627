"""Place the tables on a Citus coordinator: distributed by tenant, or reference tables."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.sharding import distribute, is_citus, placement


class Command(BaseCommand):
    help = (
        "On a Citus coordinator, distribute every tenant-owned table by tenant_id "
        "(co-located) and make the tables they point at reference tables; tables already "
        "placed are left alone. `migrate` does the same after it migrates a Citus "
        "database, so this is for checking (--plan) and for databases migrated before "
        "the citus extension was created."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--database",
            action="append",
            help="A database alias (repeatable); default: every Citus database configured.",
        )
        parser.add_argument(
            "--plan", action="store_true", help="Print the placement, change nothing."
        )

    def handle(self, *args, **options):
        aliases = options["database"] or list(settings.DATABASES)
        for alias in aliases:
            if alias not in settings.DATABASES:
                raise CommandError(f"No database {alias!r} in settings.DATABASES.")
            if not is_citus(alias):
                if options["database"]:
                    raise CommandError(f"Database {alias!r} has no citus extension.")
                self.stdout.write(f"{alias}: not a Citus database, nothing to do.")
                continue
            if options["plan"]:
                reference, distributed = placement(alias)
                for table in reference:
                    self.stdout.write(f"{alias}: {table}: reference table")
                for table in distributed:
                    self.stdout.write(f"{alias}: {table}: distributed by tenant_id")
                continue
            done = distribute(alias)
            for line in done:
                self.stdout.write(f"{alias}: {line}")
            self.stdout.write(f"{alias}: {len(done)} table(s) placed, the rest already were.")
