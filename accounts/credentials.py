"""Verified credentials (user tokens, API keys) cached per process, so that a request
costs one primary-key read of its tenant instead of a join of token, user and tenant.

An entry is a snapshot of the rows as read, and it is used only while its tenant's
`cache_version` is what it was then: saving or deleting a user, a token or an API key
bumps it in the same transaction (accounts.signals), and the tenant row is read fresh
on every request (it also says whether the tenant is blocked). So logging out, revoking
or rotating a key, deactivating a user or blocking a tenant takes effect on the very
next request in every process. Entries also expire after CACHE_SECONDS, and secrets are
still compared on every request (API keys: the hash; tokens: their SHA-256 is the lookup).

`read_tenant=False` skips that read and answers the tenant as it was cached, for a caller
that makes its write conditional on the tenant row being unchanged (the single-event
fast path: events.bulk's guarded statement), so the change is seen all the same.
"""

import dataclasses
import time
from dataclasses import dataclass
from functools import cache

from django.db import connections, models, router

from accounts.models import ApiKey, AuthToken, Tenant, User
from core.caches import LockedLRU

CACHE_SECONDS = 60.0
CACHED_CREDENTIALS = 10_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One row as it was read: enough to rebuild the instance without a query."""

    model: type[models.Model]
    fields: tuple[str, ...]
    values: tuple

    @classmethod
    def of(cls, instance: models.Model) -> "Snapshot":
        fields = tuple(field.attname for field in instance._meta.concrete_fields)
        return cls(type(instance), fields, tuple(getattr(instance, name) for name in fields))

    def instance(self) -> models.Model:
        """A fresh instance per request: requests never share (or mutate) one object."""
        return self.model.from_db("default", self.fields, self.values)


@dataclass(frozen=True, slots=True)
class Entry:
    rows: tuple[Snapshot, ...]
    tenant_id: int
    tenant: Snapshot  # as read with the credential
    version: int
    expires: float


_tokens: LockedLRU[str, Entry] = LockedLRU(size=CACHED_CREDENTIALS)
_api_keys: LockedLRU[str, Entry] = LockedLRU(size=CACHED_CREDENTIALS)


def cached_token(digest: str, *, read_tenant: bool = True) -> tuple[User, AuthToken] | None:
    """(user, token) of a token verified before (by the SHA-256 of its key), with its
    tenant read now (or as cached); None when not cached, expired, or stale."""
    found = _fresh(_tokens, digest, read_tenant=read_tenant)
    if found is None:
        return None
    (token_row, user_row), tenant = found
    user = user_row.instance()
    user.tenant = tenant
    token = token_row.instance()
    token.user = user
    return user, token


def remember_token(token: AuthToken) -> None:
    """Cache `token`, read with select_related("user__tenant")."""
    rows = (Snapshot.of(token), Snapshot.of(token.user))
    _tokens.put(token.digest, _entry(rows, token.user.tenant))


def cached_api_key(prefix: str, *, read_tenant: bool = True) -> ApiKey | None:
    """The API key with this prefix as verified before, its tenant read now (or as
    cached; the caller still compares the secret's hash); None when not cached, expired,
    or stale."""
    found = _fresh(_api_keys, prefix, read_tenant=read_tenant)
    if found is None:
        return None
    (key_row,), tenant = found
    key = key_row.instance()
    key.tenant = tenant
    return key


def remember_api_key(key: ApiKey) -> None:
    """Cache `key` (read with its tenant), e.g. again after its last_used_at changed."""
    _api_keys.put(key.prefix, _entry((Snapshot.of(key),), key.tenant))


def clear_cache() -> None:
    """Forget every credential (tests: ids and versions repeat after rollbacks)."""
    _tokens.clear()
    _api_keys.clear()


def _entry(rows: tuple[Snapshot, ...], tenant: Tenant) -> Entry:
    expires = time.monotonic() + CACHE_SECONDS
    return Entry(
        rows=rows,
        tenant_id=tenant.pk,
        tenant=Snapshot.of(tenant),
        version=tenant.cache_version,
        expires=expires,
    )


def _fresh(
    cache: LockedLRU[str, Entry], key: str, *, read_tenant: bool
) -> tuple[tuple[Snapshot, ...], Tenant] | None:
    entry = cache.get(key)
    if entry is None or entry.expires < time.monotonic():
        return None
    if not read_tenant:
        return entry.rows, entry.tenant.instance()
    tenant = tenant_row(entry.tenant_id)
    if tenant is None or tenant.cache_version != entry.version:
        return None
    if (snapshot := Snapshot.of(tenant)) != entry.tenant:
        # Another of the tenant's settings changed: what read_tenant=False answers next.
        cache.put(key, dataclasses.replace(entry, tenant=snapshot))
    return entry.rows, tenant


class TenantChanged(Exception):
    """The tenant's row is no longer the one a credential was cached with (a setting, a
    credential or the block changed): nothing was written; authenticate afresh."""


def ensure_unchanged(tenant: Tenant) -> None:
    """Raise TenantChanged unless the tenant's row is still `tenant` (as cached), field
    for field. The statement-level form of this check is events.bulk's guard."""
    row = tenant_row(tenant.pk)
    if row is None or Snapshot.of(row) != Snapshot.of(tenant):
        raise TenantChanged


def tenant_row(tenant_id: int) -> Tenant | None:
    """The tenant as it is now, by primary key. A fixed statement rather than a queryset:
    Django would compile the queryset anew on every request, which cost a quarter of a
    cached single-event ingest (bench.profile_request)."""
    alias = router.db_for_read(Tenant)
    if connections[alias].vendor != "postgresql":
        # SQLite's driver answers text for times and 0/1 for booleans; the ORM converts.
        return Tenant.objects.using(alias).filter(pk=tenant_id).first()
    sql, attnames = _tenant_select()
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [tenant_id])
        row = cursor.fetchone()
    return None if row is None else Tenant.from_db(alias, attnames, row)


@cache
def _tenant_select() -> tuple[str, tuple[str, ...]]:
    fields = Tenant._meta.concrete_fields
    quote = connections[router.db_for_read(Tenant)].ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table, pk = quote(Tenant._meta.db_table), quote(Tenant._meta.pk.column)
    # Only identifiers from model metadata are interpolated; the id is bound.
    sql = f"SELECT {columns} FROM {table} WHERE {pk} = %s"  # noqa: S608
    return sql, tuple(field.attname for field in fields)
