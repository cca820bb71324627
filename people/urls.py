"""The people app's API routes; mounted under /api/ by eventtracker.urls."""

from core.routers import OptionalSlashRouter
from people.views import PersonViewSet

router = OptionalSlashRouter()
router.register("people", PersonViewSet, basename="person")
