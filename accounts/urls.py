"""The accounts app's API routes; mounted under /api/ by eventtracker.urls."""

from django.urls import re_path

from accounts.views import ApiKeyViewSet, AuthTokenViewSet, TenantView
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("keys", ApiKeyViewSet, basename="apikey")
router.register("tokens", AuthTokenViewSet, basename="authtoken")

urlpatterns = [re_path(r"^tenant/?$", TenantView.as_view(), name="tenant")]
