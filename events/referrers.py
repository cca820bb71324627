"""Where a visit came from: a source ("Google", "Newsletter", or the referring host) and
a channel — search, social, email, paid, direct or other.

Known referrers come from the list of Snowplow's referer-parser (the `referer-parser`
package's copy), newer ones from referrers_extra.json, and, when REFERRER_DATABASE names
a file, from that file last (Snowplow publishes the list daily in the same JSON form).
Campaign parameters win over the referrer, as in every analytics product: click ids
(gclid, fbclid, msclkid…) or a paid utm_medium make a visit paid; utm_source names it.
"""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

CHANNELS = ("search", "social", "email", "paid", "direct", "other")
CLICK_IDS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "twclid", "li_fat_id")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
PAID_MEDIUMS = frozenset(
    {"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-social", "paid_social", "paidsocial",
     "cpm", "cpv", "cpa", "display", "banner", "retargeting", "affiliate"}
)  # fmt: skip
MEDIUM_CHANNELS = {
    "email": "email", "e-mail": "email", "newsletter": "email",
    "social": "social", "social-network": "social", "social-media": "social", "sm": "social",
    "organic": "search", "search": "search",
}  # fmt: skip
# The list's media, as channels ("unknown" referrers are other sites).
LIST_CHANNELS = {"search": "search", "social": "social", "email": "email", "paid": "paid"}


@dataclass(frozen=True)
class Source:
    source: str | None  # None: direct
    channel: str
    referrer_host: str | None


def classify(*, referrer: str | None, page_host: str | None, campaign: dict[str, str]) -> Source:
    """The source and channel of a page view: its campaign parameters (utm_*, click ids:
    `campaign`, lower-cased names), else its referrer — none, or the page's own host,
    is direct."""
    host = _host(referrer)
    if host is not None and page_host is not None and _bare(host) == _bare(page_host):
        host = None  # a link within the site
    known = _lookup(host) if host else None
    medium = campaign.get("utm_medium", "").lower()
    utm_source = campaign.get("utm_source")
    if any(campaign.get(name) for name in CLICK_IDS) or medium in PAID_MEDIUMS:
        source = utm_source or (known[0] if known else None) or _click_source(campaign) or host
        return Source(source, "paid", host)
    if utm_source:
        channel = MEDIUM_CHANNELS.get(medium) or (known[1] if known else None) or "other"
        return Source(utm_source, channel, host)
    if host is None:
        return Source(None, "direct", None)
    if known:
        return Source(known[0], known[1], host)
    return Source(_bare(host), "other", host)


def channel_of_name(name: str) -> str | None:
    """The channel of a source known by its name ("Google": search), as a referrer from
    it is classified; None for a name on no list. For exports that name a visit's
    source but not its referrer."""
    return _channels_by_name().get(name.strip().lower())


@cache
def _channels_by_name() -> dict[str, str]:
    found: dict[str, set[str]] = {}
    for name, channel in _referrers().values():
        found.setdefault(name.lower(), set()).add(channel)
    # A name on several lists (Google: its search pages, and its other sites as
    # `unknown`): the first of CHANNELS, so never `other` when a list says more.
    return {name: min(channels, key=CHANNELS.index) for name, channels in found.items()}


def _click_source(campaign: dict[str, str]) -> str | None:
    for name, source in (("gclid", "Google"), ("gbraid", "Google"), ("wbraid", "Google"),
                         ("fbclid", "Facebook"), ("msclkid", "Bing"), ("ttclid", "TikTok"),
                         ("twclid", "X (Twitter)"), ("li_fat_id", "LinkedIn")):  # fmt: skip
        if campaign.get(name):
            return source
    return None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def _bare(host: str) -> str:
    return host.removeprefix("www.")


def _lookup(host: str) -> tuple[str, str] | None:
    """(source, channel) of a referring host: the host, then each parent domain."""
    referrers = _referrers()
    parts = host.split(".")
    for start in range(len(parts) - 1):
        found = referrers.get(".".join(parts[start:]))
        if found is not None:
            return found
    return None


@cache
def _referrers() -> dict[str, tuple[str, str]]:
    """{domain: (source, channel)} from every list, later lists winning."""
    found: dict[str, tuple[str, str]] = {}
    package = resources.files("referer_parser") / "data" / "referers.json"
    lists = [json.loads(package.read_text()), json.loads(_EXTRA.read_text())]
    if path := getattr(settings, "REFERRER_DATABASE", None):
        lists.append(json.loads(Path(path).read_text()))
    for media in lists:
        for medium, sources in media.items():
            if not isinstance(sources, dict):
                continue
            channel = LIST_CHANNELS.get(medium, "other")
            for name, entry in sources.items():
                for domain in entry.get("domains", []):
                    host = _host(domain) or domain.lower()
                    found[_bare(host)] = found[host] = (name, channel)
    return found


_EXTRA = Path(__file__).resolve().parent / "referrers_extra.json"
