"""Django admin for people (personal data, in the pii database)."""

from django.contrib import admin

from people.models import Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """People live in the pii database; the router sends these queries there."""

    list_display = ["distinct_id", "tenant_id", "email", "username", "created_at"]
    list_filter = ["tenant_id"]
    search_fields = ["distinct_id", "email", "username", "first_name", "last_name"]
    readonly_fields = ["created_at", "updated_at"]
