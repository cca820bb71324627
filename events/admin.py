from django.contrib import admin

from events.models import DeletionReceipt, Event, EventLog, HourlyCount


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
class HourlyCountAdmin(admin.ModelAdmin):
    """Read-only: the rollup is written only with its raw rows (rebuild_hourly_counts fixes it)."""

    list_display = ["event", "tenant", "hour", "count"]
    list_filter = ["tenant"]
    list_select_related = ["event", "tenant"]
    search_fields = ["event__name"]
    date_hierarchy = "hour"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
