"""Router shared by every app's urls.py (kept apart from core.rest, which
DRF imports while its own views module is still loading)."""

from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    """Routes match with and without the trailing slash, for every method
    (seed 001 PATCHes and DELETEs `/api/events/1`; a redirect would lose the body)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
