"""The accounts app: tenants, users, API keys, authentication and the tenancy choke point."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # OpenAPI extensions; cache bumps; the failed-login counter (a signal receiver)
        from accounts import login_throttle, schema, signals  # noqa: F401
