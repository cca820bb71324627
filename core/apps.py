from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: request machinery every app shares; imports no app of ours."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
