"""Tenants and the users who belong to them."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify

from core.rates import parse_rate
from core.zones import is_zone_name

# A hundred years: any longer keeps everything anyway, and a cutoff that far back must
# stay a datetime (a million days before now is before year 1: OverflowError).
MAX_RETENTION_DAYS = 36500


def validate_timezone(value: str) -> None:
    if not is_zone_name(value):
        raise ValidationError(f"'{value}' is not an IANA time zone name.")


def validate_rate(value: str) -> None:
    try:
        parse_rate(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def rate_field(help_text: str) -> models.CharField:
    """A tenant's own rate (core.rates syntax); blank means the server's default."""
    return models.CharField(
        max_length=20, blank=True, default="", validators=[validate_rate], help_text=help_text
    )


class Tenant(models.Model):
    """A workspace (a store, a website, an app team); owns every event row."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(
        default=True, help_text="Blocked tenants get 403 on every API request."
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    auto_create_events = models.BooleanField(
        default=True,
        help_text="Create an Event when a log names an unknown one; off means 400 instead.",
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)],
        help_text="Event logs older than this many days are deleted by "
        f"`manage.py purge_expired`; at most {MAX_RETENTION_DAYS}; empty keeps them forever.",
    )
    ingest_rate = rate_field(
        "Ingestion requests per API key or user (600/min, 20/s, off); "
        "empty: the server's INGEST_RATE."
    )
    read_rate = rate_field("Other API requests per API key or user; empty: the server's READ_RATE.")
    blocklist_version = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Bumped on every blocklist change; each process's cache of the rules "
        "is keyed by it, so a change is seen by the next request everywhere.",
    )
    cache_version = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="Bumped whenever something a process may cache for this tenant changes "
        "(its users, tokens and API keys, its event names): caches keyed by it are "
        "stale from the next request on, in every process.",
    )
    # Web analytics: how visits are counted from a page's events (webstats).
    session_minutes = models.PositiveSmallIntegerField(
        default=30,
        db_default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="A visit ends after this many minutes without an event of its visitor.",
    )
    respect_dnt = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Refuse events from browsers that send Do-Not-Track or Global Privacy "
        "Control (counted as do_not_track).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def caches_changed(*tenant_ids: int | None) -> None:
        """Call in the transaction that changes what a per-process cache holds."""
        ids = {tenant_id for tenant_id in tenant_ids if tenant_id is not None}
        if ids:
            Tenant.objects.filter(pk__in=ids).update(cache_version=models.F("cache_version") + 1)

    @staticmethod
    def unique_slug(name: str) -> str:
        # A random suffix keeps slugs unique without a read-then-write race.
        return f"{slugify(name)[:40] or 'tenant'}-{secrets.token_hex(4)}"


class TenantUserManager(UserManager):
    """Every user belongs to a tenant; one is created for users who sign up alone."""

    def _create_user(self, username, email, password, **extra_fields):
        with transaction.atomic():
            if extra_fields.get("tenant") is None and extra_fields.get("tenant_id") is None:
                extra_fields["tenant"] = Tenant.objects.create(
                    name=username, slug=Tenant.unique_slug(username)
                )
            return super()._create_user(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in, a member of one tenant with a role in it (staff: platform
    admin besides). Who signs up alone owns a new tenant; an owner adds members."""

    class Role(models.TextChoices):
        OWNER = "owner", "owner: everything, the team and the API keys included"
        MEMBER = "member", "member: reads and writes the tenant's data"
        VIEWER = "viewer", "viewer: reads only"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="users")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.OWNER)
    deactivated_by_staff = models.BooleanField(
        default=False,
        editable=False,
        help_text="Deactivated in the admin by the platform's staff, who alone can "
        "reactivate the account: its tenant's owners cannot bring it back.",
    )

    objects = TenantUserManager()


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, *, now) -> "ApiKeyQuerySet":
        """Neither revoked nor expired at `now`."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A credential for machines: `et_<prefix>_<secret>`, shown once at creation.

    Only the SHA-256 of the whole key is stored; the public prefix finds the row
    with one indexed lookup. Roles: `ingest` (send events only — safe in a web
    page), `read` (lists and stats), `admin` (everything in the tenant).
    """

    class Role(models.TextChoices):
        INGEST = "ingest", "ingest: send events only"
        READ = "read", "read: lists and stats"
        ADMIN = "admin", "admin: everything in the tenant"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=10, choices=Role.choices)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins a browser may send with (ingest keys)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The key this one was rotated into.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="apikey_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.role}, et_{self.prefix}_…)"

    def is_usable(self, *, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


TOKEN_PREFIX_LENGTH = 8


class AuthTokenManager(models.Manager):
    def create_token(self, user: User) -> tuple["AuthToken", str]:
        """A new token for `user`, and its key: the only time the key exists outside
        the client (only its SHA-256 is stored)."""
        key = secrets.token_hex(20)
        now = timezone.now()  # logging in is a use, at the instant the token is made
        token = self.create(
            user=user,
            prefix=key[:TOKEN_PREFIX_LENGTH],
            digest=AuthToken.digest_of(key),
            created_at=now,
            last_used_at=now,
        )
        token.key = key  # for djoser's login answer (`auth_token`), never stored
        return token, key

    def get_or_create(self, defaults=None, **kwargs):
        """How djoser's login asks for the user's token: here every login makes a new one
        (a stored token's key cannot be shown again), which the user can list and
        revoke (/api/tokens/)."""
        token, _ = self.create_token(**kwargs)
        return token, True


class AuthToken(models.Model):
    """A user's login token (`Authorization: Token <key>`, from `POST /auth/token/login/`),
    stored as the SHA-256 of its key: a leaked database or an admin page shows no usable
    token. The key is 160 random bits, so a plain hash is enough (no slow KDF needed)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_tokens")
    prefix = models.CharField(
        max_length=TOKEN_PREFIX_LENGTH,
        editable=False,
        help_text="The key's first characters: enough to tell tokens apart, not to use one.",
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # Set by create_token, with last_used_at: the same instant (auto_now_add took a later one).
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AuthTokenManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def digest_of(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
