"""Fold the counter increments that ingestion appends into the counter tables."""

from django.core.management.base import BaseCommand

from events.rollups import fold_counters, vacuum_increments


class Command(BaseCommand):
    help = (
        "Move the increments that ingestion and deletions append (HourlyCountIncrement, "
        "IngestionCountIncrement) into HourlyCount and IngestionCount, then vacuum the "
        "increment tables (PostgreSQL). Stats are exact either way; folding and vacuuming "
        "keep the increment tables, which every stats read sums, small. Safe to run in "
        "several processes at once (run_jobs does it every FOLD_INTERVAL_SECONDS)."
    )

    def handle(self, *args, **options):
        moved = fold_counters()
        vacuum_increments()
        if moved or options["verbosity"] > 1:
            self.stdout.write(f"{moved} counter increment(s) folded.")
