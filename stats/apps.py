"""The stats app: read-only aggregations, charts, and the periodic jobs that derive data."""

from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"

    def ready(self) -> None:
        from core.metrics import register_scrape_collector
        from stats.jobs import JobLagCollector

        register_scrape_collector(JobLagCollector())
