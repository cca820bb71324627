"""Errors of the events app that several routes answer the same way."""

from rest_framework.exceptions import NotFound


class EventNotFound(NotFound):
    """404 for an event name the caller's tenant does not have (another tenant's
    included): one message for every stats and seed-000 route."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No event named '{name}'.")
        self.name = name
