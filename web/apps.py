"""The web app: pages for people (dashboard, demo), server-rendered."""

from django.apps import AppConfig


class WebConfig(AppConfig):
    """Server-rendered pages for people: the dashboard (stats, ingestion quality, API
    keys) and the tracker demo. Reads through stats selectors, writes through services."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "web"
