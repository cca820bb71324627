"""Reads across all tenants, for the platform's staff only (never tenant-scoped)."""

from django.db.models import QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Tenant
from accounts.tenancy import scope_to_outer_tenant
from events.models import EventLog, HourlyCountTotal


def tenants_overview(*, tenants: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """`tenants` annotated with `events_total` (sum of counts, read from the rollup) and
    `last_event_at` (latest `received_at`): two correlated subqueries, each served by
    an index that starts with tenant_id, so a page of tenants is one query."""
    totals = (
        scope_to_outer_tenant(HourlyCountTotal.objects.all(), outer="pk")
        .order_by()
        .values("tenant")
        .annotate(total=Sum("count"))
        .values("total")
    )
    latest = (
        scope_to_outer_tenant(EventLog.objects.all(), outer="pk")
        .order_by("-received_at")
        .values("received_at")[:1]
    )
    return tenants.annotate(
        events_total=Coalesce(Subquery(totals), 0), last_event_at=Subquery(latest)
    )
