"""Tenant.timezone: an IANA zone name, as every route's `tz`."""

import pytest
from django.core.exceptions import ValidationError


@pytest.mark.parametrize("zone", ["localtime", "Factory", "Mars/Olympus"])
def test_a_tenants_zone_is_an_iana_name(tenant, zone):
    tenant.timezone = zone

    with pytest.raises(ValidationError) as refused:
        tenant.full_clean()

    assert list(refused.value.message_dict) == ["timezone"]


def test_utc_is_a_zone(tenant):
    tenant.timezone = "UTC"

    tenant.full_clean()
