"""Browser, operating system and device type of a User-Agent (the `ua-parser` package,
the uap-core rules, cached), and known bots and crawlers (`crawlerdetect`)."""

from dataclasses import dataclass
from functools import cache, lru_cache

from crawlerdetect import CrawlerDetect
from ua_parser import parse

from core.jsonbody import is_integer

CACHED_AGENTS = 4096
MAX_AGENT = 1000  # characters of a User-Agent that are looked at
# Device types by the screen's width in CSS pixels, as Plausible reads them: a width
# says more than the User-Agent (a tablet in desktop mode, a desktop browser on a phone).
WIDTHS = ((576, "mobile"), (992, "tablet"), (1440, "laptop"))
TABLET_FAMILIES = ("ipad", "tablet", "kindle", "galaxy tab", "nexus 7", "nexus 9", "nexus 10")
MOBILE_OSES = frozenset({"ios", "android", "windows phone", "blackberry os", "kaios", "harmonyos"})


@dataclass(frozen=True)
class Agent:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None  # mobile, tablet, desktop (laptop only from a screen width)


@lru_cache(maxsize=CACHED_AGENTS)
def agent(user_agent: str) -> Agent:
    result = parse(user_agent[:MAX_AGENT])
    browser = result.user_agent
    os = result.os
    return Agent(
        browser=browser.family if browser and browser.family != "Other" else None,
        browser_version=browser.major if browser else None,
        os=os.family if os and os.family != "Other" else None,
        os_version=".".join(part for part in (os.major, os.minor) if part) or None if os else None,
        device_type=_device_type(result),
    )


def device_type(agent: Agent, screen_width: object) -> str | None:
    """The device type by the screen's width when the page sent one, else the agent's
    (None for a User-Agent that names no browser and no system)."""
    if is_integer(screen_width) and screen_width > 0:
        return next((kind for width, kind in WIDTHS if screen_width < width), "desktop")
    return agent.device_type


def _device_type(result) -> str | None:
    if result.user_agent is None and result.os is None:
        return None
    family = (result.device.family if result.device else "").lower()
    if any(name in family for name in TABLET_FAMILIES):
        return "tablet"
    os = (result.os.family if result.os else "").lower()
    if os in MOBILE_OSES:
        # Android tablets leave "Mobile" out of their User-Agent.
        if os == "android" and "mobile" not in result.string.lower():
            return "tablet"
        return "mobile"
    return "desktop"


@lru_cache(maxsize=CACHED_AGENTS)
def is_bot(user_agent: str) -> bool:
    """A known crawler, spider, headless browser or HTTP library (curl, python-requests)."""
    return _detector().isCrawler(user_agent[:MAX_AGENT])


@cache
def _detector() -> CrawlerDetect:
    return CrawlerDetect()
