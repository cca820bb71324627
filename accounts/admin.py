from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Tenant, User


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "timezone", "auto_create_events", "created_at"]
    list_filter = ["is_active", "auto_create_events"]
    search_fields = ["name", "slug"]
    actions = ["block", "unblock"]

    @admin.action(description="Block the selected tenants (403 on every API request)")
    def block(self, request, queryset):
        queryset.update(is_active=False)

    @admin.action(description="Unblock the selected tenants")
    def unblock(self, request, queryset):
        queryset.update(is_active=True)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "tenant", "is_staff", "is_active"]
    list_filter = ["tenant", "is_staff", "is_active"]
    list_select_related = ["tenant"]
    search_fields = ["username", "email", "tenant__name"]
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Tenant", {"fields": ["tenant"]}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Tenant", {"fields": ["tenant"]}))
