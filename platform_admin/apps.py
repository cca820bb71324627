"""The platform_admin app: staff-only reads and actions across tenants."""

from django.apps import AppConfig


class PlatformAdminConfig(AppConfig):
    name = "platform_admin"
    verbose_name = "Platform administration (staff)"
