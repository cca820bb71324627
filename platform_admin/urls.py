"""Platform administration routes; mounted under /api/ by eventtracker.urls."""

from core.routers import OptionalSlashRouter
from platform_admin.views import TenantAdminViewSet

router = OptionalSlashRouter()
router.register("admin/tenants", TenantAdminViewSet, basename="admin-tenant")
