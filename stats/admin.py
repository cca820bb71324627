from django.contrib import admin

from stats.models import JobState, UserActivityPeriod


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the periodic jobs: shown, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UserActivityPeriod)
class UserActivityPeriodAdmin(ReadOnlyAdmin):
    list_display = ["distinct_id", "tenant", "period_start", "period_end", "events"]
    list_filter = ["tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=distinct_id"]
    date_hierarchy = "period_start"


@admin.register(JobState)
class JobStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "watermark", "last_run_at", "last_success_at", "last_error"]
