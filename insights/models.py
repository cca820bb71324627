"""What a tenant keeps of its insights: saved queries, funnels and retention tables, and
dashboards of them (with a read-only share link). Annotations are the stats app's."""

from django.conf import settings
from django.db import models

from accounts.models import Tenant
from accounts.tenancy import ShardedByTenant, TenantForeignKey


class Authored(models.Model):
    """Who made it (None once that user is gone, or when an API key did) and when."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Insight(ShardedByTenant, Authored):
    """A named query, funnel or retention table, as its route takes it (`definition`),
    with the chart it is shown as."""

    class Kind(models.TextChoices):
        QUERY = "query", "a query (POST /api/query)"
        FUNNEL = "funnel", "a funnel (POST /api/funnels)"
        RETENTION = "retention", "a retention table (POST /api/retention)"

    class Chart(models.TextChoices):
        LINE = "line", "lines over time"
        BAR = "bar", "bars"
        TABLE = "table", "a table"
        FUNNEL = "funnel", "funnel bars"
        HEATMAP = "heatmap", "a heat map"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    definition = models.JSONField(help_text="The body its route takes.")
    chart = models.CharField(max_length=10, choices=Chart.choices, default=Chart.LINE)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "name"], name="insight_tenant_name")]

    def __str__(self) -> str:
        return self.name


class Dashboard(ShardedByTenant, Authored):
    """Ordered tiles of insights, read over one date range and zone when set (else each
    insight's own). `share_token` set: anyone with /share/<token> may read it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    date_range = models.JSONField(
        null=True, blank=True, help_text="As the insights take it; null: each insight's own."
    )
    tz = models.CharField(
        max_length=64, blank=True, default="", help_text="IANA zone; blank: each insight's own."
    )
    # NULL, not "": the unique constraint must allow every unshared dashboard.
    share_token = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "share_token"], name="dashboard_unique_share_token"
            ),
        ]
        indexes = [models.Index(fields=["share_token"], name="dashboard_share_token")]

    def __str__(self) -> str:
        return self.name


class DashboardTile(ShardedByTenant):
    """One insight on a dashboard, at `position` (ascending)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    dashboard = TenantForeignKey(Dashboard, on_delete=models.CASCADE, related_name="tiles")
    insight = TenantForeignKey(Insight, on_delete=models.CASCADE, related_name="tiles")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.dashboard_id}#{self.position}: {self.insight_id}"
