"""Request rates per API key or user, counted in fixed windows; never a database write.

A rate is `<requests>/<period>` (`600/min`, `20/s`, `10000/hour`, `100000/day`) or
`off`. Each credential has one counter per scope (`ingest`, `read`). With REDIS_URL
set, the counters are shared by every process and machine: one round trip per request
(a pipelined INCR and EXPIRE on a key that lives as long as its window). Without it,
each process counts in its own memory (a lock keeps threads exact): the limit is exact
for one process, and with several worker processes each allows the full rate, so a
credential may get up to workers times the rate. Set REDIS_URL to share one exact limit.
(The `limits` library was considered: its Redis path needs a second round trip for the
remaining count that the RateLimit-* headers report.)
"""

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from core.rates import Rate, parse_rate

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """Where a credential stands after a hit: the RateLimit-* header values."""

    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    allowed: bool


def hit(counter: str, rate: Rate, *, now: float | None = None) -> Window:
    """Count one request against `counter` (e.g. "ingest:key:12") and say if it fits."""
    return _window(counter, rate, now, counting=True)


def peek(counter: str, rate: Rate, *, now: float | None = None) -> Window:
    """Where `counter` stands in its current window, without counting a hit; `allowed`
    says whether one more hit would still fit."""
    return _window(counter, rate, now, counting=False)


@dataclass(frozen=True, slots=True)
class Counted:
    """What a request was counted as: its counter, under which rate, in which window
    (its start), and the count after its hit."""

    counter: str
    rate: Rate
    start: int
    count: int


def _window(counter: str, rate: Rate, now: float | None, *, counting: bool) -> Window:
    return _counted(counter, rate, now, counting=counting)[0]


def _counted(
    counter: str, rate: Rate, now: float | None, *, counting: bool
) -> tuple[Window, Counted]:
    now = time.time() if now is None else now
    start = math.floor(now / rate.seconds) * rate.seconds
    if counting:
        count = (
            _redis_hit(counter, start, rate) if settings.REDIS_URL else LOCAL.hit(counter, start)
        )
    else:
        count = _redis_count(counter, start) if settings.REDIS_URL else LOCAL.count(counter, start)
    counted = Counted(counter, rate, start, count)
    return _settled(counted, rate, now, counting=counting), counted


def _settled(counted: Counted, rate: Rate, now: float, *, counting: bool) -> Window:
    """The window of `counted`'s count judged by `rate` (of the same period)."""
    count, start = counted.count, counted.start
    # After a hit, the count includes it; a peek asks whether one more would fit.
    return Window(
        limit=rate.limit,
        remaining=max(0, rate.limit - count),
        reset=max(1, math.ceil(start + rate.seconds - now)),
        allowed=count + (0 if counting else 1) <= rate.limit,
    )


class LocalCounters:
    """The counters of this process: (window start, count) per counter, under a lock.
    Counters of windows that ended are dropped once there are many."""

    PRUNE_ABOVE = 100_000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, counter: str, start: int) -> int:
        with self._lock:
            window, count = self._counts.get(counter, (start, 0))
            count = count + 1 if window == start else 1
            self._counts[counter] = (start, count)
            if len(self._counts) > self.PRUNE_ABOVE:
                self._counts = {k: v for k, v in self._counts.items() if v[0] >= start}
            return count

    def count(self, counter: str, start: int) -> int:
        with self._lock:
            window, count = self._counts.get(counter, (start, 0))
            return count if window == start else 0

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


LOCAL = LocalCounters()


def _redis_hit(counter: str, start: int, rate: Rate) -> int:
    """The count after this hit; 0 when Redis cannot be reached: the limit is not
    enforced while it is down (logged), rather than every request failing."""
    from redis.exceptions import RedisError

    name = _redis_key(counter, start)
    try:
        pipeline = _redis().pipeline()
        pipeline.incr(name)
        pipeline.expire(name, rate.seconds + 1, nx=True)
        count, _ = pipeline.execute()
    except RedisError as exc:
        logger.warning("Rate limit not enforced, Redis unavailable: %s", exc)
        return 0
    return int(count)


def _redis_count(counter: str, start: int) -> int:
    """The count of the window, 0 when Redis cannot be reached (as for hits)."""
    from redis.exceptions import RedisError

    try:
        value = _redis().get(_redis_key(counter, start))
    except RedisError as exc:
        logger.warning("Rate limit not enforced, Redis unavailable: %s", exc)
        return 0
    return int(value or 0)


def _redis_key(counter: str, start: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:{counter}:{start}"


@cache
def _redis():
    import redis  # only when REDIS_URL is set

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


class CredentialRateThrottle(BaseThrottle):
    """DRF throttle for every API route: one counter per API key or user and scope.

    The scope is `ingest` for a view's POST when the view says so (`rate_scope`), else
    `read`; the rate is the tenant's own (`Tenant.ingest_rate` / `read_rate`) or the
    server's (EVENTTRACKER["INGEST_RATE"] / ["READ_RATE"]). Anonymous requests are not
    counted here (they are refused by authentication). The window is kept on the
    request so that RateLimitHeadersMiddleware can report it on every answer."""

    def allow_request(self, request, view) -> bool:
        scope = "ingest" if request.method == "POST" and view_rate_scope(view) else "read"
        window = credential_window(request._request, request.user, scope=scope)
        if window is None:
            return True
        self.window = window
        return window.allowed

    def wait(self) -> float:
        return self.window.reset


def credential_window(request: HttpRequest, principal, *, scope: str) -> Window | None:
    """Count `request` once against its credential's `scope` rate and keep the window on
    the request (for RateLimitHeadersMiddleware); None when it is not limited.

    A request already counted (the single-event fast path counts before it may hand a
    request on to the view) is not counted again; but the fast path judged it by the
    rate of its tenant as cached, and the view calls again with the tenant as it is now:
    if the rate changed in between, the request is judged by the rate now (its count
    under a limit of the same period; counted in the new period's window otherwise), so
    a changed rate holds from the very next request in every process."""
    counted: Counted | None = getattr(request, "rate_limit_counted", None)
    tenant = getattr(principal, "tenant", None)
    if not principal.is_authenticated or tenant is None:
        return getattr(request, "rate_limit_window", None)
    rate = parse_rate(getattr(tenant, f"{scope}_rate") or _default_rate(scope))
    key = getattr(principal, "api_key", None)
    counter = f"{scope}:key:{key.pk}" if key is not None else f"{scope}:user:{principal.pk}"
    if counted is not None and counted.counter == counter:
        if counted.rate == rate:
            return request.rate_limit_window
        if rate is None:  # lifted since: not limited, no RateLimit-* headers
            request.rate_limit_window = request.rate_limit_counted = None
            return None
        if rate.seconds == counted.rate.seconds:  # the same window, another limit
            window = _settled(counted, rate, time.time(), counting=True)
            request.rate_limit_window = window
            request.rate_limit_counted = dataclasses.replace(counted, rate=rate)
            return window
    if rate is None:
        return None
    window, request.rate_limit_counted = _counted(counter, rate, None, counting=True)
    request.rate_limit_window = window
    return window


def view_rate_scope(view) -> bool:
    return getattr(view, "rate_scope", None) == "ingest"


def _default_rate(scope: str) -> str | None:
    return settings.EVENTTRACKER[f"{scope.upper()}_RATE"]


class RateLimitHeadersMiddleware:
    """`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) on every
    answer of a rate-limited request, 429s included (which also carry Retry-After)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        window: Window | None = getattr(request, "rate_limit_window", None)
        if window is not None:
            response["RateLimit-Limit"] = str(window.limit)
            response["RateLimit-Remaining"] = str(window.remaining)
            response["RateLimit-Reset"] = str(window.reset)
        return response
