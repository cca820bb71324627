"""Root URL configuration: every route of the service, in one place."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

# For its side effect: drf-spectacular extensions fixing third-party views (djoser logout).
import core.openapi  # noqa: F401
from accounts.urls import router as accounts_router
from core import exceptions, health, metrics
from core.routers import OptionalSlashRouter
from events.browser import tracker_js
from events.urls import router as events_router
from people.urls import router as people_router
from platform_admin.urls import router as platform_admin_router
from v1 import urls as v1_urls

# One router for /api/ so its browsable root lists every app's resources.
api_router = OptionalSlashRouter()
for app_router in (events_router, accounts_router, people_router, platform_admin_router):
    api_router.registry.extend(app_router.registry)

urlpatterns = [
    path("health/ping", health.ping, name="health-ping"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("t.js", tracker_js, name="tracker-js"),
    path("auth/", include("djoser.urls")),
    path("auth/", include("djoser.urls.authtoken")),
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/stats/", include("stats.urls")),
    path("api/v1/", include(v1_urls.api_urlpatterns)),
    path("", include("web.urls")),  # /dashboard/, /demo/: pages for people
    path("api/", include("accounts.urls")),  # /api/tenant/
    path("api/", include(api_router.urls)),
    # Seed 000's admin API must route before Django's admin, which owns the rest of /admin/.
    path("admin/v1/", include(v1_urls.admin_urlpatterns)),
    # Any other API path answers a JSON 404, under DEBUG too (Django's page is HTML).
    re_path(r"^(?:api|admin/v1)/", exceptions.unmatched_api_path),
    path("admin/", admin.site.urls),
]

handler400 = exceptions.bad_request
handler403 = exceptions.permission_denied
handler404 = exceptions.not_found
handler500 = exceptions.server_error
