"""What a web page's events say about the visit, added to their `data` at ingestion.

A request is from a web page when it carries an `Origin` header (browsers send one with
every cross-origin request and with same-origin POSTs) or comes through the collect
route (events.views.collect). Its events are refused whole when the User-Agent is a
known bot (reason `bot`) or, for a tenant that honours them, when the browser sends
Do-Not-Track or Global Privacy Control (reason `do_not_track`). Each remaining event
gets, under `$` names (which replace any the page sent):

- `$browser`, `$browser_version`, `$os`, `$os_version`, `$device_type` (the screen
  width the page sends decides mobile / tablet / laptop / desktop; else the User-Agent);
- `$country`, `$region` when GEOIP_DATABASE is set (the address itself is not kept);
- from a `url` in the data: `$host`, `$pathname`, `$utm_source` … `$utm_content` and
  `$click_id` (the name of a gclid, fbclid … parameter);
- from a `referrer` in the data: `$referrer_host`, `$source` and `$channel`
  (events.referrers);
- and an event without a `distinct_id` gets a cookieless visitor id (events.visitors),
  whose site is the host of the request's `Origin`: the page that sent it, which the
  browser sets and the page cannot, the same for its page views, clicks and custom
  events (the `url` of a click names the link's target, a custom event may have none).
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.http import HttpRequest

from accounts.models import Tenant
from core.clients import IPAddress, client_address
from events import devices, geo, referrers, visitors
from events.validation import EventInput

# The events the tracker and its links add-on send for a web page (webstats reads them).
PAGEVIEW, PAGELEAVE = "$pageview", "$pageleave"
OUTBOUND, DOWNLOAD = "$outbound", "$download"

MAX_VALUE = 500  # characters kept of a derived text value
# Every property the server derives: what a page sent under these names is dropped.
DERIVED = (
    "$browser", "$browser_version", "$os", "$os_version", "$device_type", "$country",
    "$region", "$host", "$pathname", *(f"${name}" for name in referrers.UTM_FIELDS),
    "$click_id", "$referrer_host", "$source", "$channel",
)  # fmt: skip


@dataclass(frozen=True)
class Visit:
    """The sender of one web request, as far as its events need it."""

    tenant_id: int
    address: IPAddress | None
    user_agent: str
    day: dt.date  # of receipt, in UTC: the cookieless salt's day
    site: str  # the Origin's host; "" without one (curl, or "null" from a private page)

    @classmethod
    def of(cls, request: HttpRequest, tenant: Tenant, now: dt.datetime) -> "Visit":
        return cls(
            tenant_id=tenant.pk,
            address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            day=now.astimezone(dt.UTC).date(),
            site=_site(request),
        )

    def enrich(self, item: EventInput) -> EventInput:
        """`item` with the derived properties in its data, and a cookieless id when it
        has none."""
        data = {name: value for name, value in item.data.items() if name not in DERIVED}
        agent = devices.agent(self.user_agent)
        place = geo.place_of(self.address)
        derived: dict[str, Any] = {
            "$browser": agent.browser,
            "$browser_version": agent.browser_version,
            "$os": agent.os,
            "$os_version": agent.os_version,
            "$device_type": devices.device_type(agent, data.get("screen_width")),
            "$country": place.country,
            "$region": place.region,
        }
        page = _url(data.get("url"))
        campaign = _campaign(page)
        referrer = data.get("referrer") if isinstance(data.get("referrer"), str) else None
        if page is not None:
            derived["$host"] = page.hostname
            derived["$pathname"] = _path(page.path)
            for name in referrers.UTM_FIELDS:
                derived[f"${name}"] = campaign.get(name)
            derived["$click_id"] = next(
                (name for name in referrers.CLICK_IDS if campaign.get(name)), None
            )
        if page is not None or referrer:
            source = referrers.classify(
                referrer=referrer,
                page_host=page.hostname if page is not None else None,
                campaign=campaign,
            )
            derived |= {
                "$referrer_host": source.referrer_host,
                "$source": source.source,
                "$channel": source.channel,
            }
        for name, value in derived.items():
            if value is not None:
                data[name] = value[:MAX_VALUE] if isinstance(value, str) else value
        distinct_id = item.distinct_id or visitors.visitor_id(
            tenant_id=self.tenant_id,
            site=self.site,
            address=self.address,
            user_agent=self.user_agent,
            day=self.day,
        )
        return dataclasses.replace(item, data=data, distinct_id=distinct_id)


def _site(request: HttpRequest) -> str:
    """The host of the page that sent the request, by its `Origin`."""
    origin = _url(request.META.get("HTTP_ORIGIN"))
    return origin.hostname if origin is not None else ""


def is_web(request: HttpRequest) -> bool:
    """Sent from a web page: an `Origin` header, or the collect route."""
    return "HTTP_ORIGIN" in request.META or getattr(request, "web_collect", False)


def asks_not_to_track(request: HttpRequest) -> bool:
    return request.META.get("HTTP_DNT") == "1" or request.META.get("HTTP_SEC_GPC") == "1"


def _url(value: object):
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return parts if parts.hostname else None


def _path(raw: str) -> str:
    """A page's path as people read it, and as other products export it: a browser
    sends `/%C3%BCber-uns` for `/über-uns`. Escapes that do not make UTF-8 text, or
    make a control character, are kept as sent."""
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return raw or "/"
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return raw or "/"
    return path or "/"


def _campaign(page) -> dict[str, str]:
    """The page's query parameters that say where the visit came from, by lower-cased
    name (the first of repeated ones)."""
    if page is None:
        return {}
    wanted = (*referrers.UTM_FIELDS, *referrers.CLICK_IDS)
    found: dict[str, str] = {}
    for name, value in parse_qsl(page.query, keep_blank_values=False):
        key = name.lower()
        if key in wanted and key not in found:
            found[key] = value
    return found
