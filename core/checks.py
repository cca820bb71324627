"""System checks of the core app (`manage.py check`, and every runserver and migrate)."""

from django.conf import settings
from django.core.checks import Error, register

from core.rates import parse_rate

# The EVENTTRACKER settings read as rates (core.ratelimit, accounts.login_throttle).
RATE_SETTINGS = (
    "INGEST_RATE",
    "READ_RATE",
    "LOGIN_FAILURES_PER_USER",
    "LOGIN_FAILURES_PER_ADDRESS",
)


@register()
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
