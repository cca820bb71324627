"""Django admin for events, logs, counters, blocklists and deletion receipts."""

from django.contrib import admin
from django.db import transaction

from events.blocklist import rules_changed
from events.models import BlockRule, DeletionReceipt, Event, EventLog, HourlyCount, IngestionCount


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only the service writes (rollups, counters, job results): shown, never
    added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "created_at", "modified_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "description"]


@admin.register(EventLog)
class EventLogAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "tenant", "timestamp", "count", "distinct_id"]
    list_filter = ["tenant"]
    list_select_related = ["event", "tenant"]
    search_fields = ["event__name", "distinct_id", "=uuid"]
    raw_id_fields = ["event", "created_by"]
    date_hierarchy = "timestamp"
    readonly_fields = ["uuid", "received_at"]


@admin.register(HourlyCount)
class HourlyCountAdmin(ReadOnlyAdmin):
    """The folded rollup (increments not folded yet are not listed; the stats add them).
    Written only by the fold; rebuild_hourly_counts fixes drift."""

    list_display = ["event", "tenant", "hour", "count"]
    list_filter = ["tenant"]
    list_select_related = ["event", "tenant"]
    search_fields = ["event__name"]
    date_hierarchy = "hour"


@admin.register(IngestionCount)
class IngestionCountAdmin(ReadOnlyAdmin):
    """Folded ingestion accounting (GET /api/stats/ingestion adds the unfolded increments)."""

    list_display = ["hour", "tenant", "outcome", "reason", "events", "requests"]
    list_filter = ["outcome", "reason", "tenant"]
    list_select_related = ["tenant"]
    date_hierarchy = "hour"


@admin.register(BlockRule)
class BlockRuleAdmin(admin.ModelAdmin):
    """Tenants write their rules at /api/blocklist/ (which normalises them); here they
    are listed and may be deleted, each deletion bumping the tenant's blocklist version
    so that every server process sees it."""

    list_display = ["kind", "value", "tenant", "note", "created_at"]
    list_filter = ["kind", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["value", "note"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        self.delete_queryset(request, BlockRule.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            tenants = set(queryset.values_list("tenant_id", flat=True))
            queryset.delete()
            for tenant_id in tenants:
                rules_changed(tenant_id)


@admin.register(DeletionReceipt)
class DeletionReceiptAdmin(admin.ModelAdmin):
    """Receipts are the audit trail of deletions: listed, never edited."""

    list_display = ["id", "tenant", "reason", "events_deleted", "actor", "created_at"]
    list_filter = ["reason", "tenant"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
