"""Django admin (read-only) for the receipts of web analytics imports; an import is
deleted, with every day it brought, through DELETE /api/imports/<id>."""

from django.contrib import admin

from events.admin import ReadOnlyAdmin
from webimports.models import WebImport


@admin.register(WebImport)
class WebImportAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "source", "rows_imported", "start_date", "end_date"]
    list_filter = ["source", "tenant"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
