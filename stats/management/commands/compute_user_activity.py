"""Compute the per-user activity periods (stats.services.user_activity_compute)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from stats.services import user_activity_compute


class Command(BaseCommand):
    help = (
        "Count each user's events (by distinct_id) per fixed UTC period of "
        "USER_ACTIVITY_PERIOD_HOURS into UserActivityPeriod: every complete period since the "
        "watermark, and again every period that late events or deletions changed. "
        "Idempotent; run it as often as you like (run_jobs does, every JOBS_INTERVAL_SECONDS)."
    )

    def handle(self, *args, **options):
        run = user_activity_compute(now=timezone.now())
        self.stdout.write(
            f"User activity ({settings.USER_ACTIVITY_PERIOD_HOURS} h periods): "
            f"{run.caught_up} caught up, "
            f"{run.reopened} reopened, {run.rows} row(s) written; "
            f"complete until {run.watermark:%Y-%m-%d %H:%M} UTC."
        )
