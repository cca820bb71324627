"""Web analytics read back: visits (sessions) and the web stats of a site, from the page
events the tracker sends and ingestion enriches (events.enrichment)."""

from django.apps import AppConfig


class WebstatsConfig(AppConfig):
    name = "webstats"
