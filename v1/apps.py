from django.apps import AppConfig


class V1Config(AppConfig):
    name = "v1"
    verbose_name = "Seed 000 API (/api/v1, /admin/v1)"
