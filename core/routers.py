"""Router shared by every app's urls.py (kept apart from core.rest, which
DRF imports while its own views module is still loading)."""

from collections.abc import Mapping

from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView, DefaultRouter


class ApiRootView(APIRootView):
    """Every route group of the API: the resources below, the stats (JSON, and `.png`
    charts), your tenant, the seed-000 API under `/api/v1/`, the account routes under
    `/auth/`, and the OpenAPI docs. Send `Authorization: Token <token>` (from
    `POST /auth/token/login/`) or an API key in `X-Api-Key`."""

    # name → URL name of a route without arguments, listed after the router's resources
    links: Mapping[str, str] = {}

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        for name, url_name in self.links.items():
            response.data[name] = reverse(
                url_name, request=request, format=kwargs.get("format"), args=args
            )
        return response


class OptionalSlashRouter(DefaultRouter):
    """Routes match with and without the trailing slash, for every method
    (seed 001 PATCHes and DELETEs `/api/events/1`; a redirect would lose the body).
    `links`: more routes for the root view to list ({name: URL name})."""

    APIRootView = ApiRootView

    def __init__(self, *args, links: Mapping[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
        self.root_links = dict(links or {})

    def get_api_root_view(self, api_urls=None):
        api_root_dict = {
            prefix: self.routes[0].name.format(basename=basename)
            for prefix, _, basename in self.registry
        }
        return self.APIRootView.as_view(api_root_dict=api_root_dict, links=self.root_links)
