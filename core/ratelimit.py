"""Request rates per API key or user, counted in fixed windows shared by every process.

A rate is `<requests>/<period>` (`600/min`, `20/s`, `10000/hour`, `100000/day`) or
`off`. Each credential has one counter per scope (`ingest`, `read`): with REDIS_URL
set, a Redis INCR on a key that expires with its window; otherwise one row per
counter in the database, bumped by a single upsert that restarts the count when a
new window begins. Both are atomic, so concurrent workers never lose a hit.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import BaseThrottle

from core.models import RateCounter
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
    now = time.time() if now is None else now
    start = math.floor(now / rate.seconds) * rate.seconds
    count = _redis_hit(counter, start, rate) if settings.REDIS_URL else _db_hit(counter, start)
    return Window(
        limit=rate.limit,
        remaining=max(0, rate.limit - count),
        reset=max(1, math.ceil(start + rate.seconds - now)),
        allowed=count <= rate.limit,
    )


def _db_hit(counter: str, start: int) -> int:
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    key, window, count = (connection.ops.quote_name(c) for c in ("key", "window", "count"))
    # Only identifiers from model metadata and placeholders are interpolated.
    sql = (
        f"INSERT INTO {table} ({key}, {window}, {count}) VALUES (%s, %s, 1) "  # noqa: S608
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{window} = excluded.{window} "
        f"THEN {table}.{count} + 1 ELSE 1 END, {window} = excluded.{window} "
        f"RETURNING {count}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [counter, start])
        return cursor.fetchone()[0]


def _redis_hit(counter: str, start: int, rate: Rate) -> int:
    """The count after this hit; 0 when Redis cannot be reached: the limit is not
    enforced while it is down (logged), rather than every request failing."""
    from redis.exceptions import RedisError

    name = f"{settings.REDIS_KEY_PREFIX}:rate:{counter}:{start}"
    try:
        pipeline = _redis().pipeline()
        pipeline.incr(name)
        pipeline.expire(name, rate.seconds + 1, nx=True)
        count, _ = pipeline.execute()
    except RedisError as exc:
        logger.warning("Rate limit not enforced, Redis unavailable: %s", exc)
        return 0
    return int(count)


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
        principal = request.user
        tenant = getattr(principal, "tenant", None)
        if not principal.is_authenticated or tenant is None:
            return True
        scope = "ingest" if request.method == "POST" and view_rate_scope(view) else "read"
        rate = parse_rate(getattr(tenant, f"{scope}_rate") or _default_rate(scope))
        if rate is None:
            return True
        key = getattr(principal, "api_key", None)
        ident = f"key:{key.pk}" if key is not None else f"user:{principal.pk}"
        self.window = hit(f"{scope}:{ident}", rate)
        request._request.rate_limit_window = self.window
        return self.window.allowed

    def wait(self) -> float:
        return self.window.reset


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
