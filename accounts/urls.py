"""The accounts app's API routes; mounted under /api/ by eventtracker.urls."""

from django.urls import re_path

from accounts.views import ApiKeyViewSet, AuthTokenViewSet, MemberViewSet, TenantView
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("keys", ApiKeyViewSet, basename="apikey")
router.register("tokens", AuthTokenViewSet, basename="authtoken")
router.register("members", MemberViewSet, basename="member")

urlpatterns = [re_path(r"^tenant/?$", TenantView.as_view(), name="tenant")]
