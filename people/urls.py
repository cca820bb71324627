"""The people app's API routes; mounted under /api/ by eventtracker.urls."""

from eventtracker.routers import OptionalSlashRouter
from people.views import PersonViewSet

router = OptionalSlashRouter()
router.register("people", PersonViewSet, basename="person")
