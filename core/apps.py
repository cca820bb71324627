"""The core app: shared request machinery (DRF policy, limits, metrics); imports no app of ours."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: request machinery every app shares; imports no app of ours."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
