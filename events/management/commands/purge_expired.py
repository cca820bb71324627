"""Delete event logs older than each tenant's retention period (Tenant.retention_days)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Tenant
from accounts.tenancy import for_each_tenant, scope_to_tenant
from core.locks import try_lock
from events.models import EventLog
from events.services import DELETE_CHUNK, expired_logs_delete

# The lock of run_jobs' retention job (stats.jobs, named after this command): a purge run
# by cron and one by run_jobs never overlap. Nested, as under run_jobs, it is held again.
LOCK = "purge_expired"


class Command(BaseCommand):
    help = (
        "Delete event logs whose event time is older than their tenant's retention_days, "
        "in batches (each its own short transaction, rollup adjusted), with one deletion "
        "receipt per tenant that had logs deleted. Idempotent: run it as often as you like "
        "(e.g. hourly). Under the lock of run_jobs' purge: while another process purges, "
        "it says so and exits (status 0) without purging."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DELETE_CHUNK,
            help=f"Logs deleted per transaction (default {DELETE_CHUNK}).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )
        parser.add_argument("--tenant", help="Only this tenant (slug).")

    def handle(self, *args, batch_size: int, dry_run: bool, tenant: str | None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        tenants = Tenant.objects.filter(retention_days__isnull=False)
        if tenant is not None:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant with slug '{tenant}' and a retention period.")
        if dry_run:  # deletes nothing: no need to wait for a purge under way
            self._purge_all(tenants, batch_size=batch_size, dry_run=True)
            return
        with try_lock(LOCK) as held:
            if not held:
                self.stderr.write("Another process is purging expired logs: nothing done.")
                return
            self._purge_all(tenants, batch_size=batch_size, dry_run=False)

    def _purge_all(self, tenants: QuerySet[Tenant], *, batch_size: int, dry_run: bool) -> None:
        now = timezone.now()
        total, failed = 0, []
        for each in for_each_tenant(tenants):
            # One tenant's failure (a bad row, a lost connection) never spares the others.
            try:
                total += self._purge(each, now=now, batch_size=batch_size, dry_run=dry_run)
            except Exception as exc:
                failed.append(each.slug)
                self.stderr.write(f"{each.slug}: purge failed: {exc!r}")
        verb = "would be deleted" if dry_run else "deleted"
        self.stdout.write(f"{total} expired log(s) {verb}.")
        if failed:
            raise CommandError(f"The purge failed for: {', '.join(failed)}.")

    def _purge(self, tenant: Tenant, *, now: dt.datetime, batch_size: int, dry_run: bool) -> int:
        cutoff = _cutoff(now, tenant.retention_days)
        if cutoff is None:
            self.stdout.write(f"{tenant.slug}: retention before the calendar's start: none")
            return 0
        expired = scope_to_tenant(EventLog.objects.all(), tenant).between(end=cutoff)
        found = expired.count()
        label = f"{tenant.slug}: logs before {cutoff:%Y-%m-%d %H:%M:%S} UTC"
        if dry_run or not found:
            self.stdout.write(f"{label}: {found} {'would be deleted' if found else 'none'}")
            return found
        done = 0

        def progress(removed: int) -> None:
            nonlocal done
            done += removed
            # Logs timed before the cutoff may still come in while it runs.
            later = f" ({found} at the start; more came in since)" if done > found else f"/{found}"
            self.stdout.write(f"{label}: {done}{later} deleted")

        receipt = expired_logs_delete(
            tenant=tenant,
            logs=expired,
            filters={"end": _iso(cutoff), "retention_days": tenant.retention_days},
            chunk=batch_size,
            on_chunk=progress,
        )
        if receipt is None:  # counted, then deleted by someone else (a user's deletion)
            self.stdout.write(f"{label}: none left to delete, no receipt")
            return 0
        self.stdout.write(f"{label}: {receipt.events_deleted} deleted (receipt {receipt.pk})")
        return receipt.events_deleted


def _cutoff(now: dt.datetime, days: int) -> dt.datetime | None:
    """`days` before `now`, or None when that is before year 1: nothing is that old. (The
    model caps retention_days; a row stored before the cap may still hold more.)"""
    try:
        return now - dt.timedelta(days=days)
    except OverflowError:
        return None


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
