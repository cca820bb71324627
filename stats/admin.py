"""Django admin (read-only) for the rows the stats jobs compute."""

from django.contrib import admin

from core.admin_mixins import LargeTableAdmin
from events.admin import ReadOnlyAdmin
from stats.models import Annotation, JobState, UserActivityPeriod


@admin.register(UserActivityPeriod)
class UserActivityPeriodAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["distinct_id", "tenant", "period_start", "period_end", "events"]
    list_filter = ["tenant", ("period_start", admin.DateFieldListFilter)]
    list_select_related = ["tenant"]
    search_fields = ["=distinct_id"]


@admin.register(JobState)
class JobStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "watermark", "last_run_at", "last_success_at", "last_error"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["at", "text", "tenant", "created_by"]
    list_filter = ["tenant"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["text"]
    date_hierarchy = "at"
