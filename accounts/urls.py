"""The accounts app's API routes; mounted under /api/ by eventtracker.urls."""

from accounts.views import ApiKeyViewSet
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("keys", ApiKeyViewSet, basename="apikey")
