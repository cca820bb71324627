"""`manage.py migrate`, one at a time per database: web containers started together
(`docker compose up --scale web=3`, or several replicas of a deployment, each migrating
as it starts: docker/entrypoint.sh) take turns, and those after the first find nothing
left to do. Two at once failed with "relation already exists"."""

from django.core.management.commands.migrate import Command as DjangoMigrate

from core.locks import waiting_lock


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        with waiting_lock("migrate", using=options["database"]):
            return super().handle(*args, **options)
