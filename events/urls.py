"""The events app's API routes; mounted under /api/ by eventtracker.urls."""

from core.routers import OptionalSlashRouter
from events.views import BlockRuleViewSet, DeletionViewSet, EventLogViewSet, EventViewSet

router = OptionalSlashRouter()
router.register("events", EventViewSet, basename="event")
router.register("eventlogs", EventLogViewSet, basename="eventlog")
router.register("deletions", DeletionViewSet, basename="deletion")
router.register("blocklist", BlockRuleViewSet, basename="blockrule")
