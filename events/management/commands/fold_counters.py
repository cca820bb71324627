"""Fold the counter increments that ingestion appends into the counter tables."""

from django.core.management.base import BaseCommand

from events.rollups import fold_counters


class Command(BaseCommand):
    help = (
        "Move the increments that ingestion and deletions append (HourlyCountIncrement, "
        "IngestionCountIncrement) into HourlyCount and IngestionCount. Stats are exact "
        "either way; folding keeps the increment tables small. Safe to run in several "
        "processes at once (run_jobs does it every FOLD_INTERVAL_SECONDS)."
    )

    def handle(self, *args, **options):
        moved = fold_counters()
        if moved or options["verbosity"] > 1:
            self.stdout.write(f"{moved} counter increment(s) folded.")
