"""The core app: shared request machinery (DRF policy, limits, metrics); imports no app of ours."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: request machinery every app shares; imports no app of ours."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from core.sharding import distribute_after_migrate

        post_migrate.connect(distribute_after_migrate)
