"""The one place that scopes data to the caller's tenant.

Views over tenant-owned models inherit `TenantScopedMixin`; it filters in
`get_queryset()` and refuses subclasses that override it, so a view cannot
forget the filter. Customise through `scope_queryset(qs)`. The tenant always
comes from the credential, never from the body, URL or query string.

A tenant-owned model has either a `tenant` foreign key or, when it lives in
another database than the tenants (people.Person), a plain `tenant_id` column;
both are scoped here, the same way. Nothing outside this module filters on the
tenant by hand (eventtracker/tests/test_structure.py checks). Code without a request
scopes through the named entry points below: `scope_to_tenant` (one tenant),
`scope_to_tenants` (a job's set of tenants), `scope_to_outer_tenant` (a subquery
correlated with its outer row's tenant) and `for_each_tenant` (jobs that walk the
tenants). (Django's admin, staff only, lists every tenant's rows by design.)
"""

from collections.abc import Iterable, Iterator
from functools import cache

from django.db import models, router, transaction
from django.db.models import OuterRef
from rest_framework import serializers
from rest_framework.request import Request

from accounts.models import ApiKey, Tenant, User
from core.sharding import sequential_shard_writes


class TenantForeignKey(models.ForeignKey):
    """A foreign key between two models of one tenant: every join over it also matches
    their tenants (`… ON b.id = a.b_id AND b.tenant_id = a.tenant_id`). The rows are
    the same; a database sharded by tenant (Citus) can then answer the join inside one
    shard instead of refusing it or moving rows between nodes. Both models have a
    `tenant` foreign key.

    Its database constraint is not Django's single-column one: on PostgreSQL the
    migrations make it `(tenant_id, x_id) → (tenant_id, id)` (core.sharding.TenantKeys),
    so Django is told there is none to manage (`db_constraint=False`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("db_constraint", False)
        super().__init__(*args, **kwargs)

    def get_extra_restriction(self, alias, related_alias):
        # The condition is symmetric, so which alias names which side does not matter.
        here = self.model._meta.get_field("tenant")
        there = self.related_model._meta.get_field("tenant")
        return here.get_lookup("exact")(here.get_col(related_alias), there.get_col(alias))


class ShardedByTenant(models.Model):
    """A model whose rows belong to one tenant, in a table distributed by `tenant_id`
    on a sharded database (core.sharding: primary key `(tenant_id, id)`, co-located).

    An update of a saved row filters on its tenant (so it is routed to one shard) and
    never writes `tenant_id` (the distribution column, which Citus refuses to modify):
    a row never changes tenant. Django deletes a row by its primary key alone, which
    reaches every shard: one at a time, so that the transaction may then write a
    reference table (a signal bumping the tenant's cache version, say)."""

    distribution_column = "tenant_id"

    class Meta:
        abstract = True

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        values = [value for value in values if value[0].attname != "tenant_id"]
        base_qs = base_qs.filter(tenant_id=self.tenant_id)
        return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)

    def delete(self, using=None, keep_parents=False):
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            sequential_shard_writes(using)
            return super().delete(using=using, keep_parents=keep_parents)


def request_tenant(request: Request) -> Tenant:
    """The tenant of an authenticated request: its user's, or its API key's."""
    return request.user.tenant


@cache
def tenant_field(model: type[models.Model]) -> str | None:
    """ "tenant" (a foreign key), "tenant_id" (a plain column), or None: not tenant-owned."""
    names = {field.name for field in model._meta.concrete_fields}
    return next((name for name in ("tenant", "tenant_id") if name in names), None)


def tenant_stamp(model: type[models.Model], tenant: Tenant) -> dict[str, object]:
    """The keyword that ties a row of `model` to `tenant`, for filters and for saves."""
    field = _owned_field(model)
    return {field: tenant if field == "tenant" else tenant.pk}


def scope_to_tenant(queryset: models.QuerySet, tenant: Tenant) -> models.QuerySet:
    """`queryset` narrowed to `tenant`'s rows: for management commands, which have
    no request. Views get the same filter from TenantScopedMixin."""
    return queryset.filter(**tenant_stamp(queryset.model, tenant))


def scope_to_tenants(queryset: models.QuerySet, tenant_ids: Iterable[int]) -> models.QuerySet:
    """`queryset` narrowed to the rows of the tenants `tenant_ids`: for jobs that aggregate
    several tenants in one grouped query (each group still belongs to one tenant)."""
    return queryset.filter(**{f"{_tenant_column(queryset.model)}__in": list(tenant_ids)})


def scope_to_outer_tenant(queryset: models.QuerySet, outer: str = "tenant_id") -> models.QuerySet:
    """`queryset` as a correlated subquery on the tenant of the outer row: its field
    `outer` holds the tenant id ("pk" when the outer rows are tenants)."""
    return queryset.filter(**{_tenant_column(queryset.model): OuterRef(outer)})


def for_each_tenant(tenants: models.QuerySet[Tenant] | None = None) -> Iterator[Tenant]:
    """Every tenant (or those of `tenants`) in id order, for jobs that work one tenant at
    a time and scope each step with `scope_to_tenant`."""
    yield from (Tenant.objects.all() if tenants is None else tenants).order_by("id")


def _owned_field(model: type[models.Model]) -> str:
    field = tenant_field(model)
    if field is None:
        raise TypeError(f"{model.__name__} is not tenant-owned (no tenant or tenant_id field).")
    return field


def _tenant_column(model: type[models.Model]) -> str:
    """The tenant's id column of a tenant-owned model, whichever way it is declared."""
    _owned_field(model)
    return "tenant_id"


def request_actor(request: Request) -> tuple[User | None, ApiKey | None]:
    """Who acts: (the logged-in user, None) or (None, the API key)."""
    if isinstance(request.auth, ApiKey):
        return None, request.auth
    return request.user, None


class TenantScopedMixin:
    """For GenericAPIView subclasses: every query and every create is tenant-scoped.

    Another tenant's object is simply absent from the queryset, so retrieve,
    update and delete answer 404 exactly like a missing object.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides get_queryset(); override scope_queryset() "
                "instead so the tenant filter cannot be bypassed."
            )

    @property
    def tenant(self) -> Tenant:
        return request_tenant(self.request)

    def get_queryset(self) -> models.QuerySet:
        return self.scope_queryset(self.scoped(super().get_queryset()))

    def scoped(self, queryset: models.QuerySet) -> models.QuerySet:
        """Any other tenant-owned queryset a view needs, filtered the same way."""
        return scope_to_tenant(queryset, self.tenant)

    def scope_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        """Hook for select_related, annotations and extra filters."""
        return queryset

    def perform_create(self, serializer) -> None:
        serializer.save(**tenant_stamp(self.queryset.model, self.tenant))


class TenantScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related field that can only point at rows of the caller's tenant
    (another tenant's id is reported as not existing)."""

    def get_queryset(self):
        return scope_to_tenant(super().get_queryset(), request_tenant(self.context["request"]))
