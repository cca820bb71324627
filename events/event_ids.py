"""Event ids by name, cached per process and tenant: ingestion resolves the names of a
request without a query once they are known. The cache of a tenant is keyed by its
`cache_version`, which every rename or deletion of one of its events bumps (events.signals)
in the same transaction, and which every request reads with its credential: a change is
seen by the next request in every process."""

from collections.abc import Callable, Iterable

from django.db import transaction

from accounts.models import Tenant
from accounts.tenancy import scope_to_tenant
from core.caches import LockedLRU
from events.models import Event

CACHED_TENANTS = 10_000
NAMES_PER_TENANT = 10_000  # beyond this, further names are looked up every time

# tenant id → (cache_version, {name: id}); a dict is replaced, never changed in place
_cache: LockedLRU[int, tuple[int, dict[str, int]]] = LockedLRU(size=CACHED_TENANTS)


def event_ids(
    *,
    tenant: Tenant,
    names: Iterable[str],
    needless: Callable[[set[str]], set[str]] | None = None,
    created: set[int] | None = None,
) -> dict[str, int]:
    """{name: id} of the events named, creating the missing ones when the tenant allows
    (a name it may not create is left out). `needless(missing)`: of the names the tenant
    has not got, those not to create (their items are duplicates, which store nothing);
    asked only then, so that its query costs only a request that would create events.
    `created` gets the ids of the events this call created (or found created by a
    concurrent request as it tried to)."""
    names = set(names)
    known = _known(tenant)
    found = {name: known[name] for name in names if name in known}
    if missing := names - found.keys():
        found |= _look_up(tenant, missing, needless, created)
        if len(known) < NAMES_PER_TENANT:
            # Only once committed: an event created by a transaction that rolls back
            # must not be remembered.
            entry = (tenant.cache_version, known | found)
            transaction.on_commit(lambda: _cache.put(tenant.pk, entry))
    return found


def cached_event_id(*, tenant: Tenant, name: str) -> int | None:
    """The id of the tenant's event `name` if this process knows it (no query)."""
    return _known(tenant).get(name)


def _known(tenant: Tenant) -> dict[str, int]:
    """{name: id} this process holds for the tenant as of its `cache_version`."""
    cached = _cache.get(tenant.pk)
    return cached[1] if cached is not None and cached[0] == tenant.cache_version else {}


def clear_cache() -> None:
    """Forget every cached id (tests: tenant ids and versions repeat after rollbacks)."""
    _cache.clear()


def _look_up(
    tenant: Tenant,
    names: set[str],
    needless: Callable[[set[str]], set[str]] | None,
    created: set[int] | None,
) -> dict[str, int]:
    events = scope_to_tenant(Event.objects.all(), tenant)
    found = dict(events.filter(name__in=names).values_list("name", "id"))
    missing = names - found.keys()
    if missing and tenant.auto_create_events and needless is not None:
        missing -= needless(missing)
    if missing and tenant.auto_create_events:
        # ignore_conflicts: a concurrent request may create the same event first.
        Event.objects.bulk_create(
            [Event(tenant=tenant, name=name) for name in sorted(missing)], ignore_conflicts=True
        )
        made = dict(events.filter(name__in=missing).values_list("name", "id"))
        found |= made
        if created is not None:
            created.update(made.values())
    return found
