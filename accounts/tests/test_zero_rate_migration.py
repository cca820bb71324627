"""accounts 0013: rates of 0 stored before core.rates refused them become 1/day, so the
tenant stays stopped and every request can parse its rate again (no 500)."""

import importlib

import pytest
from django.apps import apps

from accounts.models import Tenant
from accounts.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
migration = importlib.import_module("accounts.migrations.0013_tenant_rates_not_zero")


def test_zero_rates_become_one_a_day_and_others_stay():
    stopped = TenantFactory()
    Tenant.objects.filter(pk=stopped.pk).update(ingest_rate="0/min", read_rate=" 00 / s")
    limited = TenantFactory(ingest_rate="50/s", read_rate="off")
    default = TenantFactory()

    migration.zero_rates_to_one_a_day(apps, None)

    rates = dict(Tenant.objects.values_list("pk", "ingest_rate"))
    assert rates[stopped.pk] == "1/day"
    assert Tenant.objects.get(pk=stopped.pk).read_rate == "1/day"
    assert Tenant.objects.get(pk=limited.pk).read_rate == "off"
    assert (rates[limited.pk], rates[default.pk]) == ("50/s", "")
