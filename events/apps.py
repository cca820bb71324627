"""The events app: event definitions, their logs, the counters kept from them, ingestion."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import signals  # noqa: F401  (cache bumps on event renames and deletions)
