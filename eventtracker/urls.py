"""Root URL configuration: every route of the service, in one place."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from accounts.permissions import READ_ONLY
from accounts.urls import auth_router
from accounts.urls import router as accounts_router
from accounts.views import LoginView, TokenLogoutView
from core import exceptions, health, metrics, openapi
from core.routers import ApiRootView, OptionalSlashRouter
from events import views as events_views
from events.browser import links_js, tracker_js
from events.urls import router as events_router
from insights import urls as insights_urls
from people.urls import router as people_router
from platform_admin.urls import router as platform_admin_router
from stats import urls as stats_urls
from v1 import urls as v1_urls
from web import errors
from webimports import urls as webimports_urls


def _root_links() -> dict[str, str]:
    """What the API root lists besides the resources: {name: URL name}."""
    stats = {
        f"stats/{pattern.name.removeprefix('stats-').replace('-', '_')}": pattern.name
        for pattern in stats_urls.urlpatterns
        if not pattern.name.endswith("-png")
    }
    return {
        "tenant": "tenant",
        "query": "query",
        "funnels": "funnels",
        "retention": "retention",
        **stats,
        "v1/events": "v1-events",
        "v1/event_history": "v1-event-history",
        "auth/users/me": "user-me",
        "auth/token/login": "login",
        "docs": "swagger-ui",
        "schema": "schema",
    }


class ApiRoot(ApiRootView):
    __doc__ = ApiRootView.__doc__  # the browsable root's description
    # A read or admin key reads it, as a login does (core imports no app: roles are here).
    api_key_roles = READ_ONLY


class Schema(openapi.SchemaView):
    __doc__ = openapi.SchemaView.__doc__
    # Anyone's to read (SERVE_PERMISSIONS): a key sent with the request is taken, not
    # refused as on a user-only route (its role is not asked: the document is public).
    api_key_roles = READ_ONLY


# One router for /api/ so its browsable root lists every app's resources (and links).
api_router = OptionalSlashRouter(links=_root_links())
api_router.APIRootView = ApiRoot
for app_router in (
    events_router,
    accounts_router,
    people_router,
    insights_urls.router,
    webimports_urls.router,
    platform_admin_router,
):
    api_router.registry.extend(app_router.registry)


def _slash_optional(route: str, view, *, name: str) -> list:
    """`route/` (what reverse() gives, so links keep their slash) and `route` alike."""
    return [path(f"{route}/", view, name=name), path(route, view)]


urlpatterns = [
    re_path(r"^health/ping/?$", health.ping, name="health-ping"),
    re_path(r"^health/ready/?$", health.ready, name="health-ready"),
    re_path(r"^metrics/?$", metrics.metrics_view, name="metrics"),
    path("t.js", tracker_js, name="tracker-js"),
    path("l.js", links_js, name="links-js"),
    # The tracker, its links add-on and the collect route under names a tenant chooses (ad
    # blockers' lists hold the usual ones): /js/<name>.js, /js/<name>.links.js, POST
    # /<name>/e (events.views.collect).
    re_path(r"^js/[A-Za-z0-9_-]{1,64}\.links\.js$", links_js, name="links-js-named"),
    re_path(r"^js/[A-Za-z0-9_-]{1,64}\.js$", tracker_js, name="tracker-js-named"),
    # djoser's account routes, less those that need email (accounts.views.AccountViewSet).
    path("auth/", include(auth_router.urls)),
    # djoser's token login (a new hashed token per login); logout revokes only the token
    # it is sent with (djoser's deletes every token of the user).
    re_path(r"^auth/token/login/?$", LoginView.as_view(), name="login"),
    re_path(r"^auth/token/logout/?$", TokenLogoutView.as_view(), name="logout"),
    path("api-auth/", include("rest_framework.urls")),
    *_slash_optional("api/schema", Schema.as_view(), name="schema"),
    *_slash_optional(
        "api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"
    ),
    *_slash_optional("api/redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # REDOC_DIST: the bundle the ReDoc page loads (core.openapi.redoc_bundle).
    path(
        "api/redoc/dist/bundles/redoc.standalone.js",
        openapi.redoc_bundle,
        name="redoc-bundle",
    ),
    path("api/stats/", include("webstats.urls")),
    path("api/stats/", include("stats.urls")),
    path("api/", include(insights_urls.api_urlpatterns)),
    path("", include(insights_urls.share_urlpatterns)),
    path("api/v1/", include(v1_urls.api_urlpatterns)),
    path("", include("web.urls")),  # /dashboard/, /demo/: pages for people
    path("api/", include("accounts.urls")),  # /api/tenant/
    path("api/", include(api_router.urls)),
    # Seed 000's admin API must route before Django's admin, which owns the rest of /admin/.
    path("admin/v1/", include(v1_urls.admin_urlpatterns)),
    # Any other API path answers a JSON 404, under DEBUG too (Django's page is HTML).
    re_path(r"^(?:api|admin/v1)/", exceptions.unmatched_api_path),
    path("admin/", admin.site.urls),
    re_path(r"^(?P<name>[A-Za-z0-9_-]{1,64})/e/?$", events_views.collect, name="web-collect"),
]

handler400 = exceptions.bad_request
handler403 = errors.permission_denied  # HTML for the pages, else JSON
handler404 = errors.not_found
handler500 = errors.server_error  # HTML for the pages, else JSON
