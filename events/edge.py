"""The HTTP edge of ingestion, shared by every route that stores events.

CORS for web pages (events.browser); after authentication: the body-size check
(so a 413 is counted against the sender's tenant), the origin check, the
tenant's blocklist, bots and Do-Not-Track for web pages (events.enrichment); and the
accounting of every request refused as a whole.
Requests that reach the store are counted by the service, in its transaction
(events.services).
"""

from collections.abc import Callable

from rest_framework.exceptions import APIException, ParseError

from core.middleware import body_size_problem
from core.rest import StrictJSONParser
from events.accounting import Reason, record_refusal, refusal_of
from events.blocklist import blocked_reason
from events.browser import (
    TextPlainJSONParser,
    add_cors_headers,
    is_preflight,
    origin_refusal,
    preflight_response,
)
from events.devices import is_bot
from events.enrichment import Visit, asks_not_to_track, is_web
from events.exceptions import Refused
from events.validation import EventInput

BLOCKED_MESSAGES = {
    Reason.BLOCKED_IP: "Events from this address are blocked by the tenant's blocklist.",
    Reason.BLOCKED_USER_AGENT: "Events from this User-Agent are blocked by the tenant's blocklist.",
}
BOT_MESSAGE = "Events a known bot or crawler sends from a web page are not counted."
DO_NOT_TRACK_MESSAGE = (
    "This browser asks not to be tracked (Do-Not-Track or Global Privacy Control), "
    "and the tenant honours it."
)


class IngestionMixin:
    """For APIViews whose POST stores events (and only those)."""

    checks_body_size = True  # core.middleware leaves the check to initial()
    rate_scope = "ingest"  # POSTs count against the ingest rate (core.ratelimit)
    parser_classes = [StrictJSONParser, TextPlainJSONParser]

    def dispatch(self, request, *args, **kwargs):
        if is_preflight(request):
            return preflight_response(request)  # sent without credentials
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if (problem := body_size_problem(request)) is not None:
            status, message = problem
            if status == 413:
                raise Refused(message, reason=Reason.TOO_LARGE, status=413, events=1)
            if status == 411:  # a body that cannot be read, counted as one
                raise Refused(message, reason=Reason.MALFORMED_JSON, status=411, events=1)
            raise ParseError(message)
        if request.method != "POST":
            return
        if (message := origin_refusal(request, request.auth)) is not None:
            raise Refused(message, reason=Reason.ORIGIN_NOT_ALLOWED, status=403)
        if reason := blocked_reason(self.tenant, request):
            raise Refused(BLOCKED_MESSAGES[reason], reason=reason, status=403)
        if is_web(request):
            if is_bot(request.META.get("HTTP_USER_AGENT", "")):
                raise Refused(BOT_MESSAGE, reason=Reason.BOT, status=403)
            if self.tenant.respect_dnt and asks_not_to_track(request):
                raise Refused(DO_NOT_TRACK_MESSAGE, reason=Reason.DO_NOT_TRACK, status=403)

    def enricher(self, now) -> Callable[[EventInput], EventInput] | None:
        """What the events of this request get added (events.enrichment): only a web
        page's."""
        return Visit.of(self.request, self.tenant, now).enrich if is_web(self.request) else None

    def perform_content_negotiation(self, request, force=False):
        """A POST that stores events is a machine's: answered in JSON (errors too, as
        README says), even when it asks for the browsable API (`Accept: text/html`,
        `?format=api`), which still shows the routes' GET lists. Other types it asks for
        are refused as anywhere (406)."""
        renderer, media_type = super().perform_content_negotiation(request, force)
        if request.method == "POST" and renderer.format != "json":
            renderer = next(r for r in self.get_renderers() if r.format == "json")
            media_type = renderer.media_type
        return renderer, media_type

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "POST":
            add_cors_headers(request, response)
        return response

    def handle_exception(self, exc):
        # Counted once DRF has turned the refusal into an answer (and a statement
        # deadline's savepoint, if any, has been rolled back); errors it re-raises are
        # not the sender's and are not counted.
        response = super().handle_exception(exc)
        if self.request.method == "POST":
            self._count_refusal(exc)
        return response

    def _count_refusal(self, exc: Exception) -> None:
        refusal = refusal_of(exc)
        # The principal is set once authentication ran (AnonymousUser if it failed).
        principal = getattr(self.request, "_user", None)
        tenant = getattr(exc, "tenant", None) or getattr(principal, "tenant", None)
        if refusal is None or tenant is None:
            return
        reason, events = refusal
        record_refusal(tenant_id=tenant.pk, reason=reason, events=events or self._items_in_body())

    def _items_in_body(self) -> int:
        """Items in a readable body (a batch's events), else 1: the request itself."""
        try:
            data = self.request.data
        except APIException:
            return 1
        events = data.get("events") if isinstance(data, dict) else None
        return len(events) if isinstance(events, list) and events else 1
