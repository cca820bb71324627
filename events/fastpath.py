"""The single-event POST (`POST /api/eventlogs/`) without DRF's request cycle.

Most ingestion traffic is one event per request from a client whose credential this
process has verified before. DRF's cycle around such a request (its request object,
authentication and permission classes, content negotiation, parsers, serializer) cost
more CPU than storing the event. This middleware answers that case itself and hands
every other request on unchanged. It sits right inside the middleware that every answer
needs (metrics, security and rate-limit headers). Of the middleware after it, which
would cost such a request a tenth of its CPU, two matter to it, and it does their part
itself with their own code: common's checks of the request (the Host header against
ALLOWED_HOSTS, forbidden user agents, the www redirect: any of them hands the request on,
and the view's stack answers it) and what both add to an answer (clickjacking's
X-Frame-Options, common's Content-Length), also to a 500. The others (sessions, CSRF,
messages, authentication, static files, login throttling) do nothing for a request that
has no cookie and never touches them.

It answers only a request that is ordinary from end to end: not from a web page (no
`Origin`: the view enriches a page's events, events.enrichment), a JSON answer (no
browsable API, no `?format=`), a body with its length, a token or API key (no session)
that may ingest in an active tenant, room in the rate window, no blocklist match, and a
body that parses and passes validation. Everything it checks is checked by the same
functions the view uses, and it stores through the same service
(events.services.event_logs_ingest), so it answers what the view answers: the same
status, body and headers (events/tests/test_fastpath.py sends each request both ways
and compares).

Anything else goes on to the view (events.views.EventLogViewSet.create), which answers
it and counts refusals. Nothing is written before the fast path is sure it will answer
— except the rate counter, which the view's throttle then reads instead of counting
the request twice (core.ratelimit.credential_window).

A credential this process verified before comes with its tenant as cached, without
reading the tenant's row: the write statement itself checks that the row is unchanged
and writes nothing otherwise (events.bulk), and the view then answers from a fresh read.
So blocking the tenant, revoking a key or logging out still holds from the next request.
"""

import datetime as dt
from collections.abc import Callable
from functools import cache

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.core.handlers.exception import response_for_exception
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.urls import ResolverMatch, resolve, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework import exceptions

from accounts.authentication import ApiKeyAuthentication, TenantTokenAuthentication
from accounts.credentials import TenantChanged
from accounts.models import ApiKey
from accounts.permissions import INGEST, WRITERS
from core.exceptions import UNAVAILABLE_RETRY_AFTER, Unavailable, database_unavailable
from core.jsonbody import JSONBodyError, loads_body
from core.middleware import body_size_problem
from core.ratelimit import credential_window
from core.rest import FastJSONRenderer
from events.blocklist import blocked_reason
from events.event_ids import cached_event_id
from events.exceptions import RetriedLogGone
from events.serializers import log_representation, row_representation
from events.services import event_logs_ingest, stored_log
from events.validation import EventInput, validate_event

# What the view's answers carry besides the body: DRF's Allow (the list route's
# methods) and Vary: Accept (the answer depends on the negotiated renderer).
ALLOW = "GET, POST, HEAD, OPTIONS"
# Accept headers under which DRF picks the JSON renderer (the first one listed).
JSON_ACCEPT = frozenset({"", "*/*", "application/json"})
# Body types DRF parses as JSON here: the API's, and the browser tracker's (CORS-simple).
JSON_BODIES = frozenset({"application/json", "text/plain"})

# A cached credential comes with its tenant as cached: the write is guarded instead
# (event_logs_ingest's tenant_from_cache), which saves the request a round trip.
_token_authentication = TenantTokenAuthentication(read_tenant=False)
_key_authentication = ApiKeyAuthentication(read_tenant=False)
_renderer = FastJSONRenderer()
# The middleware after this one whose work its answers need (see the module's docstring).
_common = CommonMiddleware(lambda request: None)
# What they add to an answer, innermost first (their process_response needs nothing
# from a process_request).
SKIPPED = (XFrameOptionsMiddleware(lambda request: None), _common)


class SingleEventFastPath:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path_info not in _route()[0]:
            return self.get_response(request)
        try:
            answer = _answer(request)
        except Exception as exc:
            if isinstance(exc, DatabaseError) and database_unavailable(exc):
                # Nothing was committed: the view's 503, wherever the request met it
                # (a credential's last use is written too, before the event).
                answer = _unavailable(request)
            else:  # what Django answers for it (a 500, logged), finished
                answer = _finished(request, response_for_exception(request, exc))
        return answer or self.get_response(request)


@cache
def _route() -> tuple[frozenset[str], ResolverMatch]:
    """The list route's paths (its trailing slash is optional) and its resolver match
    (what the metrics label requests with)."""
    path = reverse("eventlog-list").rstrip("/")
    return frozenset({path, f"{path}/"}), resolve(path)


def _answer(request: HttpRequest) -> HttpResponse | None:
    """The answer, or None to hand the request on to the view."""
    admitted = _admitted(request)
    if admitted is None:
        return None
    principal, key, item, now = admitted
    tenant = principal.tenant
    try:
        (receipt,) = event_logs_ingest(
            tenant=tenant,
            items=[item],
            created_by=None if key is not None else principal,
            api_key=key,
            now=now,
            tenant_from_cache=True,
        )
    except TenantChanged:  # nothing written: the view authenticates afresh
        return None
    if receipt.status == "rejected":  # an unknown event the tenant does not create
        return _json(request, receipt.errors, 400)
    if receipt.status == "accepted":
        answer = row_representation(
            receipt.row, pk=receipt.log_id, event_name=receipt.item.event_name
        )
        return _json(request, answer, 201)
    try:
        log = stored_log(tenant, receipt.uuid)
    except RetriedLogGone as exc:  # deleted since the insert found it: the view's 503
        response = _json(request, {"detail": exc.detail}, exc.status_code)
        response["Retry-After"] = str(exc.wait)
        return response
    return _json(request, log_representation(log), 200)


def _admitted(
    request: HttpRequest,
) -> tuple[object, ApiKey | None, EventInput, dt.datetime] | None:
    """(principal, API key or None, the validated event, the time it was received) when
    the view would store the event; None when it would answer anything else."""
    if not _plain(request) or not _common_passes(request):
        return None
    found = _credential(request)
    if found is None:
        return None
    principal, key = found
    if not _may_write(principal):
        return None
    window = credential_window(request, principal, scope="ingest")
    if window is not None and not window.allowed:
        return None
    if blocked_reason(principal.tenant, request) is not None:
        return None
    try:
        data = loads_body(request.body, request.META.get("CONTENT_LENGTH"))
    except JSONBodyError:
        return None
    now = timezone.now()
    item, _ = validate_event(data, now=now)
    if item is None or _may_create(principal.tenant, item.event_name):
        return None
    return principal, key, item, now


def _plain(request: HttpRequest) -> bool:
    """Nothing about the request's form asks for the view: a JSON body with a length
    within the limit, a JSON answer, no session cookie."""
    return (
        "HTTP_ORIGIN" not in request.META  # a web page's: the view enriches it
        and request.content_type in JSON_BODIES
        and request.META.get("CONTENT_LENGTH", "") not in ("", "0")
        and body_size_problem(request) is None
        and request.META.get("HTTP_ACCEPT", "").strip() in JSON_ACCEPT
        and "format" not in request.GET
        and not request.COOKIES
    )


def _common_passes(request: HttpRequest) -> bool:
    """CommonMiddleware's checks of the request pass: an allowed Host, no forbidden user
    agent, no redirect to www. (Else the view's stack answers: 400, 403 or the redirect.)"""
    try:
        return _common.process_request(request) is None
    except (SuspiciousOperation, PermissionDenied):
        return False


def _credential(request: HttpRequest) -> tuple[object, ApiKey | None] | None:
    """(principal, API key or None) as DRF's authentication would find them (a token
    first, then an API key) when they may ingest; None for anything else — no
    credential, a bad one, a blocked tenant, a key without the ingest role."""
    try:
        found = _token_authentication.authenticate(request)
        if found is not None:
            return found[0], None
        found = _key_authentication.authenticate_for(request, keys_accepted=True)
    except exceptions.APIException:
        return None
    if found is None or found[1].role not in INGEST:
        return None
    return found


def _may_create(tenant, name: str) -> bool:
    """Whether storing the event may create its Event first: the view does that, with
    the tenant as it is now (the fast path may hold it as cached, and checks that only
    when it writes the log)."""
    return tenant.auto_create_events and cached_event_id(tenant=tenant, name=name) is None


def _may_write(principal) -> bool:
    """A user's role lets them send events (a viewer's may not: the view says 403)."""
    return getattr(principal, "role", None) in (None, *WRITERS)


def _json(request: HttpRequest, body: object, status: int) -> HttpResponse:
    request.resolver_match = _route()[1]  # what core.metrics labels the request with
    # The view's renderer: orjson, or DRF's encoder for what orjson cannot write (an
    # integer past 64 bits, as PostgreSQL's jsonb gives back a float of 1e21 or more).
    content = _renderer.render(body)
    response = HttpResponse(content, status=status, content_type="application/json")
    response["Allow"] = ALLOW
    patch_vary_headers(response, ["Accept"])
    return _finished(request, response)


def _finished(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """`response` with what the middleware after this one add to the view's answers."""
    for middleware in SKIPPED:
        response = middleware.process_response(request, response)
    return response


def _unavailable(request: HttpRequest) -> HttpResponse:
    """What core.exceptions answers when the database is unreachable: nothing was
    committed, so the client may retry with the same uuid."""
    response = _json(request, {"detail": Unavailable.default_detail}, 503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response
