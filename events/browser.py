"""What browsers need from the ingestion routes: CORS for ingest keys, /t.js and /l.js.

Web pages send with an **ingest** key whose `allowed_origins` matches their
`Origin`; the JavaScript tracker posts `text/plain` bodies with the key in the
query string (`?key=`), a CORS "simple request" that needs no preflight. Any
other credential (read or admin keys, tokens) is refused from a foreign origin,
and preflights allow only `POST` with `Content-Type` and `X-Api-Key`, so
browsers cannot send other credentials cross-origin at all.
"""

import hashlib
from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers

from accounts.models import ApiKey
from accounts.origins import origin_allowed
from core.exceptions import read_only
from core.rest import StrictJSONParser

STATIC = Path(__file__).resolve().parent / "static/events"
TRACKER_JS = STATIC / "t.js"  # the tracker (tracker/src/tracker.js)
LINKS_JS = STATIC / "l.js"  # its add-on for outbound links and downloads (tracker/src/links.js)
# Not a hashed file name: a short max-age, then revalidation by ETag.
TRACKER_CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"
PREFLIGHT_MAX_AGE = 600
EXPOSED_HEADERS = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"


class TextPlainJSONParser(StrictJSONParser):
    """JSON sent as `text/plain`: what the tracker uses to stay a CORS simple request."""

    media_type = "text/plain"


def cross_origin(request: HttpRequest) -> str | None:
    """The request's `Origin` if it is another origin than this server's, else None."""
    origin = request.headers.get("Origin")
    if not origin:
        return None
    own = f"{request.scheme}://{request.get_host()}".lower()
    return None if origin.lower() == own else origin


def origin_refusal(request: HttpRequest, auth) -> str | None:
    """Why the credential `auth` of a cross-origin ingestion request may not be used from
    its page, or None when it may (or when the request is not cross-origin)."""
    origin = cross_origin(request)
    if origin is None:
        return None
    key = auth if isinstance(auth, ApiKey) else None
    if key is None or key.role != ApiKey.Role.INGEST:
        return "Only ingest API keys may send events from a web page of another origin."
    if not origin_allowed(origin, key.allowed_origins):
        return f"The origin {origin} is not among this ingest key's allowed_origins."
    return None


def is_preflight(request: HttpRequest) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(request: HttpRequest) -> HttpResponse:
    """Allow any origin to ask: the real request is checked against its key (and
    counted when refused), which a preflight, sent without credentials, cannot be."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response["Access-Control-Allow-Methods"] = "POST"
    response["Access-Control-Allow-Headers"] = "Content-Type, X-Api-Key"
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    patch_vary_headers(response, ["Origin"])
    return response


def add_cors_headers(request: HttpRequest, response: HttpResponse) -> None:
    """Let the sending page read the answer (receipts, errors, Retry-After): it holds
    nothing the page did not send, and no credentials are allowed."""
    origin = cross_origin(request)
    if origin is None:
        return
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    patch_vary_headers(response, ["Origin"])


@cache
def _script(path: Path) -> tuple[bytes, str]:
    body = path.read_bytes()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _serve_script(request: HttpRequest, path: Path) -> HttpResponse:
    body, etag = _script(path)
    headers = {"ETag": etag, "Cache-Control": TRACKER_CACHE_CONTROL}
    if etag in request.headers.get("If-None-Match", ""):
        return HttpResponseNotModified(headers=headers)
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8", headers=headers)
    response["Access-Control-Allow-Origin"] = "*"
    return response


@read_only
def tracker_js(request: HttpRequest) -> HttpResponse:
    """The JavaScript tracker (built from tracker/src/tracker.js)."""
    return _serve_script(request, TRACKER_JS)


@read_only
def links_js(request: HttpRequest) -> HttpResponse:
    """The tracker's add-on for outbound-link clicks and file downloads (built from
    tracker/src/links.js)."""
    return _serve_script(request, LINKS_JS)
