"""The people app: personal data of a tenant's end users, in a database of its own."""

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People (personal data, in the pii database)"

    def ready(self) -> None:
        from people import checks  # noqa: F401 - registers the system checks
