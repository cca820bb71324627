"""Build the HyperLogLog sketches of closed hours' users (events.sketches)."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from events.sketches import build_user_sketches, hll_ready


class Command(BaseCommand):
    help = (
        "Build the sketch of distinct users of every UTC hour at least an hour past that "
        "has events and no sketch yet (approximate active users read them). Needs "
        "PostgreSQL with the hll extension; does nothing elsewhere. Safe to run in "
        "several processes at once (run_jobs does it every JOBS_INTERVAL_SECONDS)."
    )

    def handle(self, *args, **options):
        if not hll_ready():
            if options["verbosity"] > 1:
                self.stdout.write("No hll extension here: nothing to build.")
            return
        built = build_user_sketches(now=timezone.now())
        if built or options["verbosity"] > 1:
            self.stdout.write(f"{built} hourly user sketch(es) built.")
