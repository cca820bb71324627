"""The tenancy choke point: every view over a tenant-owned model goes through it, and
joins between tenant-owned models match the tenant."""

import re

import pytest
from django.db import models
from django.db.models import Sum
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import generics, serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.test import APIRequestFactory

from accounts.models import Tenant
from accounts.tenancy import (
    TenantScopedMixin,
    TenantScopedPrimaryKeyRelatedField,
    scope_to_tenant,
    tenant_field,
)
from accounts.views import AccountViewSet
from events.models import DailyCountTotal, Event, EventLog, HourlyCountTotal
from events.tests.factories import EventFactory, EventLogFactory
from people.models import Person
from platform_admin.views import TenantAdminViewSet


def _iter_views(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _iter_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None)
            if view_class is not None:
                yield prefix + str(pattern.pattern), view_class


# Views over tenant-owned models that are scoped some other, tested way.
SCOPED_ELSEWHERE = {
    AccountViewSet: "djoser with HIDE_USERS: a user only ever sees their own account",
}
# Views that see across tenants on purpose. Each must be staff-only and refuse API keys
# (checked below), and has its own tests (platform_admin/tests).
PLATFORM_WIDE = {
    TenantAdminViewSet: "platform admin: staff list, block and unblock every tenant",
}


def _is_tenant_owned(model: type[models.Model]) -> bool:
    """A `tenant` foreign key, a plain `tenant_id` (a model in another database, like
    people.Person), or a tenant itself."""
    return model is Tenant or tenant_field(model) is not None


def test_every_view_over_a_tenant_owned_model_uses_the_mixin():
    checked = []
    for route, view_class in _iter_views(get_resolver().url_patterns):
        queryset = getattr(view_class, "queryset", None)
        if queryset is None or not _is_tenant_owned(queryset.model):
            continue
        if view_class in SCOPED_ELSEWHERE:
            continue
        checked.append(route)
        if view_class in PLATFORM_WIDE:
            assert IsAdminUser in view_class.permission_classes, route
            assert not getattr(view_class, "api_key_roles", None), route
            continue
        assert issubclass(view_class, TenantScopedMixin), route

    # The walk really found the tenant-owned API (events, eventlogs, stats, people, …).
    for expected in (
        "events",
        "eventlogs",
        "event_trend",
        "unique_users",
        "people",
        "deletions",
        "blocklist",
        "ingestion/?",
        "user_activity",
        "^query/?$",
        "^funnels/?$",
        "funnels/users",
        "^retention/?$",
        "results",
        "insights",
        "dashboards",
        "annotations",
        "imports",
        "^web/?$",
        "admin/tenants",
    ):
        assert any(expected in route for route in checked), expected


@pytest.mark.pii
def test_models_with_a_plain_tenant_id_are_scoped_by_it(tenant, other_tenant):
    mine = Person.objects.create(tenant_id=tenant.pk, distinct_id="same")
    Person.objects.create(tenant_id=other_tenant.pk, distinct_id="same")

    assert tenant_field(Person) == "tenant_id"
    assert tenant_field(Event) == "tenant"
    assert list(scope_to_tenant(Person.objects.all(), tenant)) == [mine]
    with pytest.raises(TypeError, match="not tenant-owned"):
        scope_to_tenant(Tenant.objects.all(), tenant)


def test_overriding_get_queryset_is_refused():
    with pytest.raises(TypeError, match="scope_queryset"):

        class Leaky(TenantScopedMixin, generics.ListAPIView):
            queryset = Event.objects.all()

            def get_queryset(self):
                return Event.objects.all()


@pytest.mark.django_db
def test_scoped_related_field_hides_other_tenants_rows(user, other_tenant):
    mine = EventFactory(tenant=user.tenant)
    theirs = EventFactory(tenant=other_tenant)
    request = APIRequestFactory().get("/")
    request.user = user
    field = TenantScopedPrimaryKeyRelatedField(queryset=Event.objects.all())
    field.bind("event", parent=None)
    field._context = {"request": request}

    assert field.to_internal_value(mine.pk) == mine
    with pytest.raises(serializers.ValidationError, match="does not exist"):
        field.to_internal_value(theirs.pk)


@pytest.mark.django_db
def test_user_list_shows_only_the_caller(api_client, user, other_user):
    response = api_client.get("/auth/users/")

    assert response.status_code == 200
    assert [row["username"] for row in response.json()] == [user.username]
    assert api_client.get(f"/auth/users/{other_user.pk}/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        lambda: EventLog.objects.filter(event__name="click"),  # a join to the event
        lambda: Event.objects.filter(logs__distinct_id="u-1"),  # and back
        lambda: EventLog.objects.select_related("event"),
        lambda: HourlyCountTotal.objects.values("event__name").annotate(n=Sum("count")),
        lambda: DailyCountTotal.objects.values("event__name").annotate(n=Sum("count")),
    ],
    ids=["filter", "reverse", "select_related", "hourly_view", "daily_view"],
)
def test_joins_between_tenant_owned_models_also_match_the_tenant(query):
    sql = str(query().query)

    join = re.split(r" (?:WHERE|GROUP BY|ORDER BY) ", sql[sql.index(" JOIN ") :])[0]
    tables = set(re.findall(r'"(\w+)"\."tenant_id"', join))
    assert len(tables) == 2, join  # the join compares the tenant columns of both sides


def test_a_tenant_join_still_finds_the_same_rows(tenant, other_tenant):
    mine = EventFactory(tenant=tenant, name="click")
    EventLogFactory(event=mine)
    EventLogFactory(event=EventFactory(tenant=other_tenant, name="click"))

    logs = EventLog.objects.filter(tenant=tenant, event__name="click")

    assert [log.event_id for log in logs] == [mine.pk]
    assert list(Event.objects.filter(logs__tenant=tenant)) == [mine]
