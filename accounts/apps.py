"""The accounts app: tenants, users, API keys, authentication and the tenancy choke point."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import schema, signals  # noqa: F401  (OpenAPI extensions; cache bumps)
