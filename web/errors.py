"""The site's 403, 404 and 500 handlers (eventtracker.urls): an HTML page for addresses
of pages for people, JSON (core.exceptions) for everything else. 400 stays JSON
everywhere: it can come before the middleware has read the session, which a page needs;
the 500 page is drawn without the request (as logged out), and is JSON should even that
fail.

The rule is the path alone, never the Accept header: `/`, and everything under
/dashboard/, /demo/ and /share/ but a shared tile's data (/share/<token>/tiles/…), is a
page; a JSON client reading a page's address gets the page's error, as a browser would."""

import logging
import re

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string

from core import exceptions
from web.views import refused

logger = logging.getLogger(__name__)
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


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_page(request):
        return exceptions.server_error(request)
    context = {
        "title": "Something went wrong",
        "message": "The page failed on our side, and the failure was logged. Try again in "
        "a moment.",
    }
    try:  # no request: nothing of the session, the user or the database is needed
        return HttpResponseServerError(render_to_string("web/refused.html", context))
    except Exception:
        logger.exception("The 500 page failed to render; answering JSON.")
        return exceptions.server_error(request)
