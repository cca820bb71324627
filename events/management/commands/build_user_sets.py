"""Build the exact hourly user sets of closed hours (events.usersets)."""

import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from events.usersets import build_user_sets, sets_ready


class Command(BaseCommand):
    help = (
        "Build the sets of distinct users (per event, and per value of the data keys with "
        "few values) of every UTC hour at least an hour past that has events and no sets "
        "yet, newest first; the query API counts from them. PostgreSQL only; does nothing "
        "elsewhere. Safe to run in several processes at once (run_jobs does it every "
        "JOBS_INTERVAL_SECONDS)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            help="only the hours of the last DAYS days (a first build over a long history)",
        )

    def handle(self, *args, **options):
        if not sets_ready():
            if options["verbosity"] > 1:
                self.stdout.write("Not PostgreSQL: nothing to build.")
            return
        now = timezone.now()
        since = None if options["days"] is None else now - dt.timedelta(days=options["days"])
        built = build_user_sets(now=now, since=since)
        if built or options["verbosity"] > 1:
            self.stdout.write(f"The user sets of {built} hour(s) built.")
