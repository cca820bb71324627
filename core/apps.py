"""The core app: shared request machinery (DRF policy, limits, metrics); imports no app of ours."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: request machinery every app shares; imports no app of ours."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.db.models.signals import post_migrate, pre_delete

        from core import checks  # noqa: F401 - registers the system checks
        from core.paths import mark_path_not_utf8
        from core.sharding import distribute_after_migrate, sequential_before_reference_delete

        post_migrate.connect(distribute_after_migrate)
        pre_delete.connect(sequential_before_reference_delete)
        request_started.connect(mark_path_not_utf8)
