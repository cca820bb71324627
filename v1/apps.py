"""The v1 app: seed 000's API at its own paths, over events and stats."""

from django.apps import AppConfig


class V1Config(AppConfig):
    name = "v1"
    verbose_name = "Seed 000 API (/api/v1, /admin/v1)"
