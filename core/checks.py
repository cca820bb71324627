"""System checks of the core app (`manage.py check`, and every runserver and migrate),
and the service's own checks run again when the WSGI app starts (serve_checked)."""

import logging
import sys

from django.conf import settings
from django.core.checks import Error, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured

from core.rates import parse_rate

# The tag of the checks of the service's settings, which serve_checked runs again.
SETTINGS = "eventtracker-settings"

logger = logging.getLogger(__name__)

# The EVENTTRACKER settings read as rates (core.ratelimit, accounts.login_throttle).
RATE_SETTINGS = (
    "INGEST_RATE",
    "READ_RATE",
    "LOGIN_FAILURES_PER_USER",
    "LOGIN_FAILURES_PER_ADDRESS",
)


@register(SETTINGS)
def rates_readable(app_configs, **kwargs) -> list[Error]:
    """Each rate setting parses as the admin and the API parse a tenant's: a bad one
    (or a limit of 0) would otherwise answer 500 or 429 to every request it governs."""
    errors = []
    for name in RATE_SETTINGS:
        try:
            parse_rate(settings.EVENTTRACKER.get(name))
        except ValueError as exc:
            errors.append(Error(f"{name}: {exc}", id="core.E001"))
    return errors


@register(SETTINGS)
def proxies_named_in_production(app_configs, **kwargs) -> list[Warning]:
    """The production profile is served through a TLS-terminating proxy; unless it is
    among TRUSTED_PROXIES, every client has the proxy's address: one stranger's failed
    logins then throttle everyone's (the per-address limit), the blocklists and rate
    limits see one client, and a proxy on this host reaches /metrics as 127.0.0.1 (which
    core.metrics refuses when a forwarded address came with it). Shown by every `check`
    and `migrate`, and logged by every gunicorn worker as it starts."""
    if not settings.PRODUCTION or settings.TRUSTED_PROXIES:
        return []
    return [
        Warning(
            "DJANGO_SETTINGS_PROFILE=production, but TRUSTED_PROXIES is empty: every "
            "client looks like the proxy in front.",
            hint="Set TRUSTED_PROXIES to the proxy's address or network, e.g. 127.0.0.1/32 "
            "for a proxy on this host.",
            id="core.W001",
        )
    ]


def serve_checked() -> None:
    """The settings' checks, once more as the WSGI app starts (each gunicorn worker):
    `check` runs them, and `migrate` and runserver, but a server started on settings
    changed since, or without a migrate, did not. An error stops the worker, and
    gunicorn with it ("Worker failed to boot"), naming the check; a warning is logged.
    SILENCED_SYSTEM_CHECKS silences them here too. runserver has just run every check
    itself before it loads the app, so it is left out (its output said each warning twice)."""
    if sys.argv[1:2] == ["runserver"]:
        return
    found = [message for message in run_checks(tags=[SETTINGS]) if not message.is_silenced()]
    for warning in (message for message in found if not message.is_serious()):
        logger.warning("%s", _one_line(warning))
    errors = [message for message in found if message.is_serious()]
    if errors:
        raise ImproperlyConfigured(" ".join(_one_line(error) for error in errors))


def _one_line(message) -> str:
    hint = f" Hint: {message.hint}" if message.hint else ""
    return f"({message.id}) {message.msg}{hint}"
