"""Credentials → (principal, auth), with the tenant loaded and checked once per request.

A blocked (inactive) tenant is refused here with 403, so every authenticated
route — ours and djoser's — refuses it the same way; only logging in stays open.
Tokens and API keys verified once are cached per process (accounts.credentials): a
request then reads only its tenant's row, which also says whether the cache is stale.
"""

import datetime as dt

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)

from accounts import credentials, keys
from accounts.models import ApiKey, AuthToken, Tenant

TENANT_BLOCKED = "This tenant is blocked; contact the platform administrator."
LAST_USED_PRECISION = dt.timedelta(minutes=1)
KEY_NOT_ACCEPTED = "API keys cannot be used on this route; log in as a user."
KEY_IN_URL_NOT_INGEST = (
    "Only ingest keys may be sent in the URL (?key=); send other keys in the X-Api-Key header."
)


class SeveralCredentials(exceptions.APIException):
    """400: a request with more than one credential, which might be of different
    tenants; none of them is chosen silently."""

    status_code = 400
    default_code = "several_credentials"


def ensure_one_credential(request) -> None:
    """SeveralCredentials unless `request` (Django's or DRF's) carries at most one of: a
    token or an API key in `Authorization`, an `X-Api-Key` header, an ingest key in the
    URL (`?key=`). `?key=` given twice is two credentials too: taking the last (or the
    first) would let whoever adds one to a URL choose its tenant. So are two
    `Authorization` or `X-Api-Key` headers, which the server joins with a comma (no
    key or token holds one). Checked once per request: the first authenticator and the
    API-key one both call it, and the answer is kept in the request's environ."""
    if request.META.get(_ONE_CREDENTIAL_CHECKED):
        return
    sent = []
    for credential in get_authorization_header(request).split(b","):
        scheme = credential.strip().split(b" ", 1)[0].lower()
        if scheme in CREDENTIAL_SCHEMES:
            sent.append(CREDENTIAL_SCHEMES[scheme])
    if "HTTP_X_API_KEY" in request.META:
        sent.extend(["X-Api-Key"] * (request.META["HTTP_X_API_KEY"].count(",") + 1))
    in_url = len(request.GET.getlist("key"))
    if in_url:
        sent.append("?key=" if in_url == 1 else f"?key= {in_url} times")
    if len(sent) > 1 or in_url > 1:
        raise SeveralCredentials(f"Send one credential: this request carries {' and '.join(sent)}.")
    request.META[_ONE_CREDENTIAL_CHECKED] = True


# WSGI's convention for a server's or application's own key: a name with a dot.
_ONE_CREDENTIAL_CHECKED = "eventtracker.one_credential_checked"


class TenantInactive(exceptions.PermissionDenied):
    """403 for a blocked tenant; carries the tenant so ingestion can count the refusal."""

    def __init__(self, tenant: Tenant) -> None:
        super().__init__(TENANT_BLOCKED)
        self.tenant = tenant


def ensure_tenant_active(tenant: Tenant) -> None:
    if not tenant.is_active:
        raise TenantInactive(tenant)


class TenantTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` (djoser's login); answers 401 with
    `WWW-Authenticate: Token`. Tokens are found by the SHA-256 of their key."""

    model = AuthToken

    def __init__(self, *, read_tenant: bool = True) -> None:
        # False: a cached credential comes with its tenant as cached (accounts.credentials)
        self.read_tenant = read_tenant

    def authenticate(self, request):
        ensure_one_credential(request)  # the first of the authenticators (settings)
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        digest = AuthToken.digest_of(key)
        cached = credentials.cached_token(digest, read_tenant=self.read_tenant)
        if cached is not None:
            user, token = cached
        else:
            token = AuthToken.objects.select_related("user__tenant").filter(digest=digest).first()
            if token is None:
                raise exceptions.AuthenticationFailed("Invalid token.")
            user = token.user
            credentials.remember_token(token)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        ensure_tenant_active(user.tenant)
        _touch(token, remember=credentials.remember_token)
        return user, token


class TenantSessionAuthentication(SessionAuthentication):
    """Session login (browsable API, admin); CSRF enforced as in DRF."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            ensure_tenant_active(result[0].tenant)
        return result


class ApiKeyPrincipal:
    """`request.user` for API-key requests: authenticated, never staff, in the key's tenant."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True
    pk = id = None

    def __init__(self, key: ApiKey) -> None:
        self.api_key = key
        self.tenant = key.tenant
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    """`X-Api-Key: <key>` or `Authorization: Api-Key <key>`: one indexed lookup by the
    public prefix, then a constant-time compare of the hash. Ingest keys may also come
    as `?key=` (what the browser tracker and `sendBeacon`, which cannot set headers,
    use); a URL ends up in logs, so no other role is accepted there."""

    keyword = "Api-Key"

    def __init__(self, *, read_tenant: bool = True) -> None:
        # False: a cached key comes with its tenant as cached (accounts.credentials)
        self.read_tenant = read_tenant

    def authenticate(self, request):
        view = (request.parser_context or {}).get("view")
        return self.authenticate_for(
            request, keys_accepted=bool(getattr(view, "api_key_roles", None))
        )

    def authenticate_for(self, request, *, keys_accepted: bool):
        """(principal, key) for the key `request` carries, None when it carries none;
        `keys_accepted`: whether the route takes API keys at all. Works on Django's
        request as well as DRF's (the single-event fast path has only the former)."""
        ensure_one_credential(request)
        raw = self._raw_key(request)
        in_url = raw is None and "key" in request.GET
        if in_url:
            raw = request.GET["key"].strip()
        if raw is None:
            return None
        key = self._verify(raw)
        if in_url and key.role != ApiKey.Role.INGEST:
            raise exceptions.AuthenticationFailed(KEY_IN_URL_NOT_INGEST)
        ensure_tenant_active(key.tenant)
        if not keys_accepted:
            # Key management, djoser's account routes, …: a user login only.
            raise exceptions.PermissionDenied(KEY_NOT_ACCEPTED)
        _touch(key, remember=credentials.remember_api_key)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return self.keyword

    def _raw_key(self, request) -> str | None:
        header = request.META.get("HTTP_X_API_KEY")
        if header is not None:
            return header.strip()
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Api-Key header: one key expected.")
        return parts[1].decode("latin-1")

    def _verify(self, raw: str) -> ApiKey:
        prefix = keys.prefix_of(raw)
        key = None
        if prefix is not None:
            key = credentials.cached_api_key(prefix, read_tenant=self.read_tenant)
            if key is None:
                key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
                if key is not None:
                    credentials.remember_api_key(key)
        if key is None or not keys.matches(raw, key.hashed_secret):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if not key.is_usable(now=timezone.now()):
            raise exceptions.AuthenticationFailed("This API key has expired.")
        return key


def _touch(credential: AuthToken | ApiKey, *, remember) -> None:
    """Record a token's or key's use at most once a minute: one conditional UPDATE (no
    signal, so the cache stays valid), then `remember` caches it with the new time so
    the next requests need no UPDATE again."""
    now = timezone.now()
    last = credential.last_used_at
    if last is None or now - last >= LAST_USED_PRECISION:
        type(credential).objects.filter(pk=credential.pk).update(last_used_at=now)
        credential.last_used_at = now
        remember(credential)


# The Authorization schemes of the authenticators above, as ensure_one_credential names them.
CREDENTIAL_SCHEMES = {
    auth.keyword.lower().encode(): f"Authorization: {auth.keyword}"
    for auth in (TenantTokenAuthentication, ApiKeyAuthentication)
}
