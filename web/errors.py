"""The site's 403 and 404 handlers (eventtracker.urls): an HTML page for addresses of
pages for people, JSON (core.exceptions) for everything else. 400 and 500 stay JSON
everywhere: they can come before the middleware has read the session, which a page needs.

The rule is the path alone, never the Accept header: `/`, and everything under
/dashboard/, /demo/ and /share/ but a shared tile's data (/share/<token>/tiles/…), is a
page; a JSON client reading a page's address gets the page's error, as a browser would."""

import re

from django.http import HttpRequest, HttpResponse

from core import exceptions
from web.views import refused

PAGES = re.compile(r"/(?:|dashboard(?:/.*)?|demo(?:/.*)?|share/[^/]+/?)", re.DOTALL)


def is_page(request: HttpRequest) -> bool:
    return PAGES.fullmatch(request.path_info) is not None


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if not is_page(request):
        return exceptions.permission_denied(request, exception)
    message = "You are not allowed to see this page."
    return refused(request, title="Not allowed", message=message, status=403)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if not is_page(request):
        return exceptions.not_found(request, exception)
    message = "There is nothing at this address, or nothing your account may see."
    return refused(request, title="Page not found", message=message, status=404)
