"""Recompute the hourly and daily rollups from raw EventLog rows and report any drift."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import Tenant
from accounts.tenancy import for_each_tenant, scope_to_tenant
from events.models import (
    DailyCount,
    DailyCountTotal,
    EventLog,
    HourlyCount,
    HourlyCountIncrement,
    HourlyCountTotal,
)
from events.rollups import (
    DAILY_AMOUNTS,
    HOURLY_AMOUNTS,
    Deltas,
    daily_rows,
    deltas_of_queryset,
    hourly_rows,
    quarter_deltas,
)


class Command(BaseCommand):
    help = (
        "Rebuild the hourly rollup (HourlyCount and its unfolded increments) and the "
        "daily one (DailyCount) from raw event logs, per tenant, and report drift (per "
        "quarter hour: the count and its first_15/30/45 columns are checked; and per day)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (slug).")
        parser.add_argument(
            "--check",
            action="store_true",
            help="Report drift without fixing it; exit with status 1 if any is found.",
        )

    def handle(self, *args, tenant=None, check=False, **options):
        tenants = Tenant.objects.all()
        if tenant is not None:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant with slug '{tenant}'.")
        drifted = sum(self._rebuild(t, fix=not check) for t in for_each_tenant(tenants))
        verb = "found" if check else "fixed"
        self.stdout.write(f"{drifted} drifted bucket(s) {verb}.")
        if check and drifted:
            raise CommandError("HourlyCount differs from the raw event logs.", returncode=1)

    def _rebuild(self, tenant: Tenant, *, fix: bool) -> int:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Writers that already appended increments finish first; later ones wait
                # for this commit (and folds for the counter table), so the raw rows and
                # the rollup are read at one point in time.
                with connection.cursor() as cursor:
                    for model in (HourlyCount, HourlyCountIncrement):
                        cursor.execute(f"LOCK TABLE {model._meta.db_table} IN SHARE MODE")
            expected = deltas_of_queryset(scope_to_tenant(EventLog.objects.all(), tenant))
            stored = _stored(tenant)
            drift = {key for key in expected.keys() | stored.keys() if expected[key] != stored[key]}
            expected_days, stored_days = daily_rows(expected), _stored_days(tenant)
            drift |= {
                key
                for key in expected_days.keys() | stored_days.keys()
                if expected_days.get(key) != stored_days.get(key)
            }
            if drift:
                self.stdout.write(
                    f"{tenant.slug}: {len(drift)} bucket(s) drifted "
                    f"(rollup total {stored.total()}, raw total {expected.total()})"
                )
            if drift and fix:
                for model in (HourlyCountIncrement, HourlyCount, DailyCount):
                    scope_to_tenant(model.objects.all(), tenant).delete()
                HourlyCount.objects.bulk_create(
                    HourlyCount(
                        tenant_id=t,
                        event_id=e,
                        hour=h,
                        **dict(zip(HOURLY_AMOUNTS, amounts, strict=True)),
                    )
                    for t, e, h, *amounts in hourly_rows(expected)
                )
                DailyCount.objects.bulk_create(
                    DailyCount(
                        tenant_id=t,
                        event_id=e,
                        day=d,
                        **dict(zip(DAILY_AMOUNTS, amounts, strict=True)),
                    )
                    for (t, e, d), amounts in expected_days.items()
                )
        return len(drift)


def _stored(tenant: Tenant) -> Deltas:
    """The rollup as readers see it: counters plus unfolded increments, empty buckets out."""
    rows = (
        scope_to_tenant(HourlyCountTotal.objects.all(), tenant)
        .order_by()
        .values_list("tenant_id", "event_id", "hour")
        .annotate(*(Sum(amount) for amount in HOURLY_AMOUNTS))
    )
    return +quarter_deltas(rows)


def _stored_days(tenant: Tenant) -> dict:
    """The daily rollup as readers see it, empty days out."""
    rows = (
        scope_to_tenant(DailyCountTotal.objects.all(), tenant)
        .order_by()
        .values_list("tenant_id", "event_id", "day")
        .annotate(*(Sum(amount) for amount in DAILY_AMOUNTS))
    )
    return {(t, e, d): tuple(amounts) for t, e, d, *amounts in rows if any(amounts)}
