"""The accounts app's API routes; mounted under /api/ by eventtracker.urls."""

from django.urls import re_path

from accounts.views import ApiKeyViewSet, TenantView
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("keys", ApiKeyViewSet, basename="apikey")

urlpatterns = [re_path(r"^tenant/?$", TenantView.as_view(), name="tenant")]
