"""Django admin (read-only) for saved insights and dashboards: tenants write them through
the API, which checks each definition; here staff see them."""

from django.contrib import admin

from events.admin import ReadOnlyAdmin
from insights.models import Dashboard, Insight


@admin.register(Insight)
class InsightAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "kind", "chart", "created_by", "modified_at"]
    list_filter = ["kind", "tenant"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["name", "description"]


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "shared", "created_by", "modified_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["name", "description"]
    exclude = ["share_token"]  # a secret: whoever has it reads the dashboard

    @admin.display(boolean=True, description="Shared by link")
    def shared(self, dashboard: Dashboard) -> bool:
        return dashboard.share_token is not None
