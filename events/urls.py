"""The events app's API routes; mounted under /api/ by eventtracker.urls."""

from events.views import BlockRuleViewSet, DeletionViewSet, EventLogViewSet, EventViewSet
from eventtracker.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("events", EventViewSet, basename="event")
router.register("eventlogs", EventLogViewSet, basename="eventlog")
router.register("deletions", DeletionViewSet, basename="deletion")
router.register("blocklist", BlockRuleViewSet, basename="blockrule")
