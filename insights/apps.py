"""The insights app: the query API over a tenant's events."""

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
