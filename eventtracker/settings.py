"""eventtracker settings: one module, read from the environment (django-environ).

Secure by default: DEBUG is off unless DJANGO_DEBUG says otherwise, and without
DEBUG the service refuses to start unless DJANGO_SECRET_KEY is set. Behind HTTPS,
DJANGO_SETTINGS_PROFILE=production adds secure cookies, HSTS and the https redirect
(`make deploy-check` runs `manage.py check --deploy` on it).
"""

import ipaddress
import logging
import math
import os
import re
import tempfile
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.durations import positive_seconds

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Local development: `make run` writes .env once (DJANGO_DEBUG=1 and a generated secret
# key), so commands need no exported variable. Variables set in the environment win.
ENV_FILE = Path(os.environ.get("DJANGO_ENV_FILE") or BASE_DIR / ".env")
if os.environ.get("DJANGO_ENV_FILE") and not ENV_FILE.is_file():  # not silently skipped
    raise ImproperlyConfigured(f"DJANGO_ENV_FILE names no file: {str(ENV_FILE)!r}.")
environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (production). "
            f"For local development, run `make run` once: it writes {ENV_FILE.name} with "
            "DJANGO_DEBUG=1 and a generated key."
        )
    SECRET_KEY = _DEV_SECRET_KEY


def _seconds_setting(name: str, *, default: float) -> float:
    """A positive, finite number of seconds from the environment, refused at start-up by
    name otherwise, as a loop would spin or crash. float() itself reads the text, not
    django-environ, which reads "nan" as ""."""
    try:
        return positive_seconds(env.str(name, default=str(default)))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a number of seconds more than 0, e.g. {default:g}."
        ) from None


def _number_setting(name: str, *, default: int | float, minimum: int | float) -> int | float:
    """A number from the environment (a whole one if `default` is), at least `minimum`;
    refused at start-up by name otherwise: int()'s bare "invalid literal" named nothing."""
    kind = type(default)
    text = env.str(name, default=str(default)).strip()
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum:
        what = "a whole number" if kind is int else "a number"
        raise ImproperlyConfigured(
            f"{name} must be {what} of at least {minimum}, e.g. {default}; got {text!r}."
        )
    return value


def _networks_setting(name: str, *, default: list[str]) -> list:
    """Networks (addresses or CIDR ranges, comma-separated), each refused by name; host
    bits are allowed (10.0.0.1/8 is 10.0.0.0/8) in every such setting."""
    networks = []
    for text in env.list(name, default=default):
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {text!r} is no address or network (e.g. 127.0.0.1/32 or ::1/128)."
            ) from None
    return networks


ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else ["127.0.0.1", "localhost"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# JSON, as every other error, except for a browser's form (core.exceptions.csrf_failure).
CSRF_FAILURE_VIEW = "core.exceptions.csrf_failure"

# "dev" (the default) or "production": the service is reached over HTTPS, through a proxy
# or load balancer that terminates TLS. Not implied by DEBUG off: a server reached over
# plain HTTP (make gunicorn, the tests, the benchmark) would then redirect every request to
# an https:// that nobody answers. docker-compose.yml runs "dev" unless .env says otherwise.
SETTINGS_PROFILE = env.str("DJANGO_SETTINGS_PROFILE", default="dev")
if SETTINGS_PROFILE not in {"dev", "production"}:
    raise ImproperlyConfigured("DJANGO_SETTINGS_PROFILE must be dev or production.")
PRODUCTION = SETTINGS_PROFILE == "production"
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_SETTINGS_PROFILE=production needs DJANGO_DEBUG off.")

# Every answer, both profiles: no MIME sniffing, no Referer to other origins, no framing.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Production: cookies over HTTPS only, HSTS, plain HTTP redirected to https. Exempt: the
# load balancer's health checks and Prometheus' scrape, which reach a web node directly.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
# One year, the policy that browsers (and the HSTS preload list) expect.
SECURE_HSTS_SECONDS = _number_setting(
    "DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=PRODUCTION)
# Behind a TLS-terminating proxy the request reaches Django over HTTP; this header, e.g.
# HTTP_X_FORWARDED_PROTO, set to "https" by the proxy, says it was not. Set it only if the
# proxy always overwrites that header: otherwise any client can claim https.
_PROXY_SSL_HEADER = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
if _PROXY_SSL_HEADER and not _PROXY_SSL_HEADER.startswith("HTTP_"):
    raise ImproperlyConfigured(
        "DJANGO_SECURE_PROXY_SSL_HEADER names a request.META key, e.g. HTTP_X_FORWARDED_PROTO."
    )
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "djoser",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "accounts",
    "events",
    "stats",
    "insights",
    "people",
    "platform_admin",
    "v1",
    "web",
    "webstats",
    "webimports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.HtmlCSPMiddleware",
    "core.metrics.MetricsMiddleware",
    # /health/ping and /health/ready, whatever the Host header: before any host check.
    "core.health.HealthProbeMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.ratelimit.RateLimitHeadersMiddleware",
    # It answers the common single-event POST itself, inside the middleware above (metrics,
    # security and rate-limit headers); of those below, it applies what they would add to
    # its answer (events.fastpath.SKIPPED).
    "events.fastpath.SingleEventFastPath",
    "accounts.login_throttle.LoginThrottleMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "eventtracker.urls"
WSGI_APPLICATION = "eventtracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str, *, test_file_prefix: str = "eventtracker-test") -> dict:
    """Parse a database URL; SQLite gets WAL, a busy timeout and IMMEDIATE transactions
    so that concurrent writers queue instead of failing with "database is locked"."""
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Tests use a file too: an in-memory shared-cache database fails concurrent
        # writers with "table is locked" instead of letting them wait like a file does.
        # One file per test process, so parallel runs in one checkout never share it.
        test_file = Path(tempfile.gettempdir()) / f"{test_file_prefix}-{os.getpid()}.sqlite3"
        config["TEST"] = {"NAME": str(test_file)}
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that polls the socket instead of sending
        # SELECT 1 before every request (core/backends/postgresql).
        config["ENGINE"] = "core.backends.postgresql"
        config["CONN_MAX_AGE"] = _number_setting("DATABASE_CONN_MAX_AGE", default=60, minimum=0)
        config["CONN_HEALTH_CHECKS"] = True
        # Statements sent through core.sql.server_side_cursor (the ingest write, the
        # increments' appends) are prepared on their connection after this many runs:
        # PostgreSQL then skips parsing and planning them. Django's own queries bind on the
        # client and are never prepared. Empty turns it off, for a pooler in transaction
        # mode that cannot keep prepared statements (PgBouncer before 1.21).
        threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="2").strip()
        config.setdefault("OPTIONS", {})["prepare_threshold"] = (
            _number_setting("DATABASE_PREPARE_THRESHOLD", default=2, minimum=0)
            if threshold
            else None
        )
    return config


# The logs' covering indexes (events.EventLog) INCLUDE columns on PostgreSQL; SQLite
# builds them without (Django says so with this warning on every migrate and runserver).
SILENCED_SYSTEM_CHECKS = ["models.W040"]

DATABASES = {
    "default": _database(env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")),
    # Personal data (the people app) lives apart from the events: its own database, which
    # may be another server. Unset = a second SQLite file, even when the default database
    # is PostgreSQL. No foreign key crosses the two; events name people by distinct_id.
    "pii": _database(
        env.str("PII_DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'pii.sqlite3'}"),
        test_file_prefix="eventtracker-pii-test",
    ),
}
DATABASE_ROUTERS = ["eventtracker.dbrouters.PiiRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Content-Security-Policy of every HTML page (dashboard, demo, docs, admin, browsable API):
# scripts and everything else from this origin only, no inline script. Inline styles stay
# allowed: Swagger UI, ReDoc and the admin set them, and they cannot run code. ReDoc
# draws in a worker it makes from a blob. The demo page adds the host it may send to.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

AUTH_USER_MODEL = "accounts.User"
# The failed-login throttle first: it refuses an attempt before a password is checked.
AUTHENTICATION_BACKENDS = [
    "accounts.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/api-auth/login/"
LOGIN_REDIRECT_URL = "/api/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "core.staticstorage.StaticStorage"},
}
# Collected (`collectstatic`, as the Docker image does): served from STATIC_ROOT, with
# the gzip copies the storage wrote beside each file, pages naming each file
# by its content's hash (cached for good; core.staticstorage). Otherwise, and always in
# development, straight from the apps (uncompressed); finders' files would shadow the
# collected ones, so they are not used once there are some.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()
if not STATIC_ROOT.is_dir():  # not collected: WhiteNoise would warn of it in every worker
    warnings.filterwarnings("ignore", message=re.escape(f"No directory at: {STATIC_ROOT}"))
WHITENOISE_AUTOREFRESH = DEBUG
# Files served at the site's root: /favicon.ico, which browsers ask for on every page
# that names no icon (the browsable API, the admin, the docs).
WHITENOISE_ROOT = BASE_DIR / "core" / "root"

# Bodies larger than this are refused with 413 before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = _number_setting(
    "MAX_REQUEST_BODY_BYTES", default=1024 * 1024, minimum=1
)
# Imports of other products' exports (webimports): the largest upload to POST
# /api/imports/ (larger exports go through `manage.py import_web_stats`), and the most
# CSV a zip may unpack to.
WEBIMPORT_MAX_UPLOAD_BYTES = _number_setting(
    "WEBIMPORT_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024, minimum=1
)
WEBIMPORT_MAX_BYTES = _number_setting("WEBIMPORT_MAX_BYTES", default=4 * 1024**3, minimum=1)
# What one upload may cost a worker (webimports.limits; 0 = no limit; the command has none):
# the bytes all its files unpack to, as read; how many times its compressed size a zip's
# member may unpack to (past 1 MiB); the lines read; the seconds spent reading them.
WEBIMPORT_MAX_UNPACKED_BYTES = _number_setting(
    "WEBIMPORT_MAX_UNPACKED_BYTES", default=256 * 1024 * 1024, minimum=0
)
WEBIMPORT_MAX_RATIO = _number_setting("WEBIMPORT_MAX_RATIO", default=100, minimum=0)
WEBIMPORT_MAX_ROWS = _number_setting("WEBIMPORT_MAX_ROWS", default=2_000_000, minimum=0)
WEBIMPORT_MAX_SECONDS = _number_setting("WEBIMPORT_MAX_SECONDS", default=60.0, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TenantTokenAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.ApiKeyRolePermission",
        "accounts.permissions.UserRolePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["core.ratelimit.CredentialRateThrottle"],
    "DEFAULT_PARSER_CLASSES": [
        "core.rest.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "core.rest.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.rest.FormatNegotiation",
    "DEFAULT_PAGINATION_CLASS": "core.rest.HeaderLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "core.filters.StrictFilterBackend",
        "core.rest.BoundedSearchFilter",
        "core.filters.StrictOrderingFilter",
    ],
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DJOSER = {
    "HIDE_USERS": True,
    # Another's account: staff with the admin's permissions on users (accounts.permissions).
    "PERMISSIONS": {
        "user": ["accounts.permissions.YourselfOrPermittedStaff"],
        "user_list": ["accounts.permissions.YourselfOrPermittedStaff"],
        "user_delete": ["accounts.permissions.YourselfOrPermittedStaff"],
    },
    # Login tokens stored hashed (accounts.models.AuthToken): each login makes a new one.
    "TOKEN_MODEL": "accounts.models.AuthToken",
    "SERIALIZERS": {
        "user": "accounts.serializers.CurrentUserSerializer",
        "current_user": "accounts.serializers.CurrentUserSerializer",
        "user_create": "accounts.serializers.SignUpSerializer",
        "set_username": "accounts.serializers.NewUsernameSerializer",
        "token_create": "accounts.serializers.LoginSerializer",
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "eventtracker API",
    "DESCRIPTION": (
        "Multi-tenant event tracking: define events, send event logs, read trends "
        "and frequencies. Authenticate with `Authorization: Token <token>` "
        "(from `POST /auth/token/login/`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Two "role" fields: an API key's and a team member's.
    "ENUM_NAME_OVERRIDES": {
        "ApiKeyRoleEnum": "accounts.models.ApiKey.Role",
        "MemberRoleEnum": "accounts.models.User.Role",
    },
    "REDOC_DIST": "/api/redoc/dist",  # the sidecar's bundle, made local (core.openapi)
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.add_error_responses",
    ],
}

EVENTTRACKER = {
    # How far in the future a client timestamp may lie before it is refused.
    "MAX_FUTURE_SKEW_SECONDS": _number_setting("MAX_FUTURE_SKEW_SECONDS", default=3600, minimum=0),
    # Requests per API key or user (core.ratelimit): ingestion, and everything
    # else. "600/min", "20/s", "10000/hour", "off"; each tenant may have its own.
    "INGEST_RATE": env.str("INGEST_RATE", default="6000/min"),
    "READ_RATE": env.str("READ_RATE", default="1200/min"),
    # Failed logins (accounts.login_throttle) per username and client address, and per
    # client address; past either, logins answer 429 until the window ends.
    "LOGIN_FAILURES_PER_USER": env.str("LOGIN_FAILURES_PER_USER", default="10/hour"),
    "LOGIN_FAILURES_PER_ADDRESS": env.str("LOGIN_FAILURES_PER_ADDRESS", default="100/hour"),
    # Longest a stats query may run before the request answers 503 + Retry-After (0: no
    # limit), and the longest date range a stats request may cover.
    "STATS_STATEMENT_TIMEOUT_MS": _number_setting(
        "STATS_STATEMENT_TIMEOUT_MS", default=15000, minimum=0
    ),
    "STATS_MAX_RANGE_DAYS": _number_setting("STATS_MAX_RANGE_DAYS", default=3660, minimum=1),
    # PostgreSQL's work_mem for a stats request's queries: the hash of (group, user) pairs
    # of a month's distinct users fits instead of spilling to disk (per hash, per query).
    "STATS_WORK_MEM": env.str("STATS_WORK_MEM", default="64MB").strip(),
    # Lists count their total (X-Total-Count) at most this many rows past the page; beyond
    # that they say X-Total-Count-At-Least, so counting never costs more than the page.
    "LIST_COUNT_CAP": _number_setting("LIST_COUNT_CAP", default=10_000, minimum=0),
    # Counter increments appended by ingestion are folded into the counter tables this
    # often: by `run_jobs`, and after an ingest by a web process that has not folded for
    # that long (events.rollups). Readers are exact either way; this bounds the backlog.
    "FOLD_INTERVAL_SECONDS": _seconds_setting("FOLD_INTERVAL_SECONDS", default=2),
}
# PostgreSQL's units for memory: a SET of anything else failed every stats request.
if not re.fullmatch(r"[0-9]+(\.[0-9]+)? ?(B|kB|MB|GB|TB)?", EVENTTRACKER["STATS_WORK_MEM"]):
    raise ImproperlyConfigured(
        f"STATS_WORK_MEM must be a size in PostgreSQL's units, e.g. 64MB; got "
        f"{EVENTTRACKER['STATS_WORK_MEM']!r}."
    )
# Shared rate-limit counters (and nothing else yet) live in Redis when this is set, else
# in each process's memory: never in the database. Read here, without connecting: a URL
# redis cannot read answered 500 to every request it limits.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL and not re.match(r"(rediss?|unix)://", REDIS_URL):
    raise ImproperlyConfigured(
        f"REDIS_URL must start with redis://, rediss:// or unix://, e.g. "
        f"redis://127.0.0.1:6379/0; got {REDIS_URL!r}."
    )
# Start of every key we write there: deployments sharing one Redis keep apart.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="eventtracker")

# Per-user activity periods (manage.py compute_user_activity): fixed windows of this many
# hours aligned on UTC midnight, so the length must divide a day.
_PERIOD_HOURS_MESSAGE = (
    "USER_ACTIVITY_PERIOD_HOURS must divide 24: one of 1, 2, 3, 4, 6, 8, 12, 24."
)
try:  # "abc" is the same mistake as 5, named the same way (not int()'s raw ValueError)
    USER_ACTIVITY_PERIOD_HOURS = env.int("USER_ACTIVITY_PERIOD_HOURS", default=4)
except ValueError:
    raise ImproperlyConfigured(_PERIOD_HOURS_MESSAGE) from None
if USER_ACTIVITY_PERIOD_HOURS < 1 or 24 % USER_ACTIVITY_PERIOD_HOURS:
    raise ImproperlyConfigured(_PERIOD_HOURS_MESSAGE)
# Seconds between two rounds of `manage.py run_jobs` (activity periods, retention purge).
JOBS_INTERVAL_SECONDS = _seconds_setting("JOBS_INTERVAL_SECONDS", default=300)

# /metrics is served to these client networks, or to `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_NETWORKS = _networks_setting(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]
)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Reverse proxies whose X-Forwarded-For is believed (the client address for blocklists
# is the socket peer otherwise). Empty: trust no proxy.
TRUSTED_PROXIES = _networks_setting("TRUSTED_PROXIES", default=[])

# Web analytics (webstats): a MaxMind-format database for the country and region of a
# visit (GeoLite2 City or Country, DB-IP lite), and an optional newer referrer list in
# Snowplow referer-parser's JSON form. Both are files on this machine; none is fetched.
GEOIP_DATABASE = env.str("GEOIP_DATABASE", default="") or None
REFERRER_DATABASE = env.str("REFERRER_DATABASE", default="") or None
for _name, _file in (("GEOIP_DATABASE", GEOIP_DATABASE), ("REFERRER_DATABASE", REFERRER_DATABASE)):
    if _file is not None and not Path(_file).is_file():
        raise ImproperlyConfigured(f"{_name} names no file: {_file!r}.")
del _name, _file

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
if not isinstance(logging.getLevelName(LOG_LEVEL), int):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL; got {LOG_LEVEL!r}."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # No email or distinct_id of a people route's path in any line, and one line for a
    # request refused as suspicious (core.logredact).
    "filters": {
        "person_paths": {"()": "core.logredact.RedactPersonPaths"},
        "security_one_line": {"()": "core.logredact.SecurityWithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["person_paths", "security_one_line"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
