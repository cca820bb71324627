"""Request-level guards that must run before any view reads the body."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from eventtracker.rest import json_error


class BodySizeLimitMiddleware:
    """Answer 413 from the Content-Length header alone, before the body is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "Content-Length header is not a number.")
        if limit is not None and length > limit:
            return json_error(413, f"Request body is larger than {limit} bytes.", limit=limit)
        return self.get_response(request)
