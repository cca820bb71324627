"""Reads across all tenants, for the platform's staff only (never tenant-scoped)."""

from django.db import connection
from django.db.models import BigIntegerField, DateTimeField, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from accounts.models import Tenant
from accounts.tenancy import scope_to_outer_tenant
from core.sharding import is_sharded
from events.models import EventLog, HourlyCountTotal


def tenants_overview(*, tenants: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """`tenants` annotated with `events_total` (sum of counts, read from the rollup) and
    `last_event_at` (latest `received_at`), in one query.

    Two correlated subqueries, each served by an index that starts with tenant_id, so a
    page of tenants costs an index probe per tenant shown. A database sharded by tenant
    cannot run a subquery correlated with a reference table (the tenants): there each
    figure is one grouped aggregate over every shard, computed once per query and
    looked up by tenant (`_grouped`)."""
    if is_sharded():
        return tenants.annotate(
            events_total=RawSQL(  # noqa: S611 - identifiers from model metadata only
                f"COALESCE(({_grouped(HourlyCountTotal, 'SUM', 'count')})::bigint, 0)",
                [],
                output_field=BigIntegerField(),
            ),
            last_event_at=RawSQL(  # noqa: S611 - identifiers from model metadata only
                f"({_grouped(EventLog, 'MAX', 'received_at')})::timestamptz",
                [],
                output_field=DateTimeField(),
            ),
        )
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


def _grouped(model, aggregate: str, column: str) -> str:
    """SQL for the outer tenant's `aggregate(column)` over `model`'s rows, as text: an
    uncorrelated subquery (all tenants' values, as one JSON object) and a key lookup."""
    q = connection.ops.quote_name
    table, tenants = q(model._meta.db_table), q(Tenant._meta.db_table)
    # Only identifiers from model metadata are interpolated.
    return (
        f"(SELECT jsonb_object_agg(tenant_id, value) FROM "  # noqa: S608
        f"(SELECT {q('tenant_id')}, {aggregate}({q(column)}) AS value FROM {table} "
        f"GROUP BY {q('tenant_id')}) AS grouped) ->> ({tenants}.{q('id')})::text"
    )
