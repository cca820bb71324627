"""The imports app's resource (mounted under /api/ with every app's)."""

from core.routers import OptionalSlashRouter
from webimports.views import WebImportViewSet

router = OptionalSlashRouter()
router.register("imports", WebImportViewSet, basename="webimport")
