"""Request-level guards that must run before any view reads the body."""

from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.exceptions import json_error

CHUNKED_MESSAGE = (
    "A request body needs a Content-Length header: a body sent in chunks "
    "(Transfer-Encoding) is not read."
)


def body_size_problem(request: HttpRequest, limit: int | None = None) -> tuple[int, str] | None:
    """(status, message) when the headers alone condemn the request: a body without a
    Content-Length (411: Django reads no body without one, so a chunked body would pass
    as empty), or one larger than `limit`, by default DATA_UPLOAD_MAX_MEMORY_SIZE (413)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        return 411, CHUNKED_MESSAGE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 400, "Content-Length header is not a number."
    if limit is not None and length > limit:
        return 413, f"Request body is larger than {limit} bytes."
    return None


class BodySizeLimitMiddleware:
    """Answer 413 from the Content-Length header alone, before the body is read.

    Views whose class sets `checks_body_size` (ingestion), or function views that set it
    on themselves (one that hands the request to such a class's view), make the same
    check themselves right after authentication, so that the refusal is counted against
    the sender's tenant and carries its reason and CORS headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if getattr(view_func, "checks_body_size", False) or getattr(
            getattr(view_func, "cls", None), "checks_body_size", False
        ):
            return None
        problem = body_size_problem(request)
        if problem is None:
            return None
        status, message = problem
        extra = {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE} if status == 413 else {}
        return json_error(status, message, **extra)


class HtmlCSPMiddleware(CSPMiddleware):
    """django-csp's Content-Security-Policy (settings.CONTENT_SECURITY_POLICY), on HTML
    pages only: a policy on JSON, images or scripts protects nothing, and building it
    for every ingest request would cost time."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
