"""The accounts app's routes: `router` and `urlpatterns` mounted under /api/,
`auth_router` (the account routes) under /auth/ by eventtracker.urls."""

from django.urls import re_path

from accounts.views import (
    AccountViewSet,
    ApiKeyViewSet,
    AuthTokenViewSet,
    MemberViewSet,
    TenantView,
)
from core.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("keys", ApiKeyViewSet, basename="apikey")
router.register("tokens", AuthTokenViewSet, basename="authtoken")
router.register("members", MemberViewSet, basename="member")

urlpatterns = [re_path(r"^tenant/?$", TenantView.as_view(), name="tenant")]

auth_router = OptionalSlashRouter()
auth_router.register("users", AccountViewSet, basename="user")
