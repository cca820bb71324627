"""Failed logins, throttled on every login route: djoser's token login, the browsable
API's and the admin's session logins, the dashboard's.

Failures are counted per (username, client address) and per client address, in fixed
windows of core.ratelimit's counters (shared by every process through Redis when
REDIS_URL is set). Once either count reaches its limit, further attempts are refused
with 429 and Retry-After before any password is checked, until the window ends; a
success does not clear them. The pair rather than the username alone, so that nobody
can lock a user out from another address; the address alone caps one client trying
many usernames. Client addresses are read through the trusted proxies (core.clients).

How: LoginThrottleBackend, first in AUTHENTICATION_BACKENDS, refuses an attempt over a
limit (Django then asks no other backend) and marks the request; the
`user_login_failed` signal counts the real failures; LoginThrottleMiddleware turns
the answer to a marked request into the 429, whichever login view gave it.

django-axes was the library to use, but its lockout does not reach DRF views (djoser
answers its own 400 or 403) and it keeps attempts in tables of its own; the counters
here already run in Redis or memory.
"""

from django.conf import settings
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from prometheus_client import Counter

from core.clients import client_address
from core.ratelimit import hit, peek
from core.rates import Rate, parse_rate

LOGIN_FAILURES = Counter(
    "eventtracker_login_failures_total", "Logins refused for wrong credentials, every route."
)
LOGIN_THROTTLED = Counter(
    "eventtracker_login_throttled_total",
    "Login attempts refused with 429 after too many failures.",
)
# Login routes whose answers are JSON (djoser's); the others are HTML pages.
JSON_PREFIXES = ("/auth/",)


class LoginThrottleBackend(BaseBackend):
    """Authenticates nobody: refuses an attempt over a limit, before the real backends."""

    def authenticate(self, request, username=None, **credentials):
        if request is None or username is None:
            return None
        request = _django_request(request)
        retry_after = _retry_after(request, str(username))
        if retry_after is not None:
            request.login_retry_after = retry_after
            raise PermissionDenied  # Django stops here and signals a failed login
        return None

    def get_user(self, user_id):
        # Sessions opened without naming a backend (login(), force_login()) name the first
        # one, this: their users load as ModelBackend loads them.
        return ModelBackend().get_user(user_id)


@receiver(user_login_failed)
def count_failed_login(sender, credentials, request=None, **kwargs) -> None:
    """Count a failure of wrong credentials (not an attempt this module refused)."""
    if request is None:
        return
    request = _django_request(request)
    if getattr(request, "login_retry_after", None) is not None:
        return
    for counter, rate in _counters(request, str(credentials.get("username", ""))):
        hit(counter, rate)
    LOGIN_FAILURES.inc()


class LoginThrottleMiddleware:
    """The answer to an attempt the backend refused: 429 with Retry-After."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        retry_after = getattr(request, "login_retry_after", None)
        if retry_after is None:
            return response
        LOGIN_THROTTLED.inc()
        message = f"Too many failed logins; try again in {retry_after} seconds."
        if request.path.startswith(JSON_PREFIXES):
            throttled = JsonResponse({"detail": message}, status=429)
        else:
            page = render_to_string("accounts/login_throttled.html", {"message": message})
            throttled = HttpResponse(page, status=429)
        throttled["Retry-After"] = str(retry_after)
        return throttled


def _retry_after(request: HttpRequest, username: str) -> int | None:
    """Seconds until a new attempt may be made, or None when one may be made now."""
    waits = [
        window.reset
        for counter, rate in _counters(request, username)
        if not (window := peek(counter, rate)).allowed
    ]
    return max(waits) if waits else None


def _counters(request: HttpRequest, username: str) -> list[tuple[str, Rate]]:
    address = client_address(request)
    limits = settings.EVENTTRACKER
    pairs = [
        (f"login:{address}:{username.casefold()}", limits["LOGIN_FAILURES_PER_USER"]),
        (f"login:{address}", limits["LOGIN_FAILURES_PER_ADDRESS"]),
    ]
    return [(counter, rate) for counter, text in pairs if (rate := parse_rate(text)) is not None]


def _django_request(request) -> HttpRequest:
    """Django's request, also when DRF's wraps it (djoser passes DRF's)."""
    return getattr(request, "_request", request)
