"""Web analytics imported from another product's exports (Plausible, Umami, Google
Analytics), kept as daily aggregates beside the native page views (webstats)."""

from django.apps import AppConfig


class WebimportsConfig(AppConfig):
    name = "webimports"
