"""Django admin for events, logs, counters, blocklists and deletion receipts."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.tenancy import scope_to_tenant
from core.admin_mixins import (
    ChangedFieldsAdmin,
    LargeTableAdmin,
    LookupValuesAdmin,
    SequentialShardsAdmin,
)
from events.blocklist import rules_changed
from events.models import BlockRule, DeletionReceipt, Event, EventLog, HourlyCount, IngestionCount
from events.services import event_delete


class ReadOnlyAdmin(LookupValuesAdmin):
    """Rows that only the service writes (rollups, counters, job results): shown, never
    added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventAdminForm(forms.ModelForm):
    def validate_unique(self):
        """A name stays unique in its tenant when the tenant is read-only (not a form
        field), where Django skips the constraint and the database would answer a 500."""
        super().validate_unique()
        if "tenant" in self.fields:
            return
        try:
            self.instance.validate_constraints()
        except ValidationError as exc:
            self.add_error("name", exc.messages)


@admin.register(Event)
class EventAdmin(SequentialShardsAdmin, ChangedFieldsAdmin):
    """An event stays in its tenant (its logs and rollup rows are stamped with it), and
    is deleted as `DELETE /api/events/<id>` deletes it: through events.services.event_delete,
    so its logs go with their share of the rollup and leave a receipt."""

    form = EventAdminForm
    list_display = ["name", "tenant", "created_at", "modified_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "description"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj is not None else []

    def get_deleted_objects(self, objs, request):
        """What the confirmation page lists: the events, and how many logs go with them
        (the service deletes those, so the logs' own admin, which deletes none, has no say)."""
        events = list(objs)
        logs = EventLog.objects.filter(event__in=events).count()
        counts = {Event._meta.verbose_name_plural: len(events)}
        counts[EventLog._meta.verbose_name_plural] = logs
        return [str(event) for event in events], counts, set(), []

    def delete_model(self, request, obj):
        logs = scope_to_tenant(EventLog.objects.all(), obj.tenant)
        event_delete(tenant=obj.tenant, event=obj, logs=logs, created_by=request.user)

    def delete_queryset(self, request, queryset):
        for event in queryset.select_related("tenant"):
            self.delete_model(request, event)


@admin.register(EventLog)
class EventLogAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Logs are written only by ingestion, which keeps the rollups exact, and deleted
    only with a receipt (POST /api/deletions/, or deleting their event): shown here."""

    list_display = ["id", "event", "tenant", "timestamp", "count", "distinct_id"]
    list_filter = ["tenant", ("timestamp", admin.DateFieldListFilter)]
    list_select_related = ["event", "tenant"]
    search_fields = ["event__name", "distinct_id", "=uuid"]


@admin.register(HourlyCount)
class HourlyCountAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """The folded rollup (increments not folded yet are not listed; the stats add them).
    Written only by the fold; rebuild_hourly_counts fixes drift."""

    list_display = ["event", "tenant", "hour", "count"]
    list_filter = ["tenant", ("hour", admin.DateFieldListFilter)]
    list_select_related = ["event", "tenant"]
    search_fields = ["event__name"]


@admin.register(IngestionCount)
class IngestionCountAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Folded ingestion accounting (GET /api/stats/ingestion adds the unfolded increments)."""

    list_display = ["hour", "tenant", "outcome", "reason", "events", "requests"]
    list_filter = ["outcome", "reason", "tenant", ("hour", admin.DateFieldListFilter)]
    list_select_related = ["tenant"]


@admin.register(BlockRule)
class BlockRuleAdmin(SequentialShardsAdmin):
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
        with self.sequential_shards():  # "Delete selected" too
            tenants = set(queryset.values_list("tenant_id", flat=True))
            queryset.delete()
            for tenant_id in tenants:
                rules_changed(tenant_id)


@admin.register(DeletionReceipt)
class DeletionReceiptAdmin(ReadOnlyAdmin):
    """Receipts are the audit trail of deletions (and the activity job follows them):
    listed, never edited or deleted."""

    list_display = ["id", "tenant", "reason", "events_deleted", "actor", "created_at"]
    list_filter = ["reason", "tenant"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
