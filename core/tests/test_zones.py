"""core.zones: the time zone names every route, form and tenant accepts."""

import pytest

from core.zones import is_zone_name


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "Asia/Kolkata", "Etc/GMT-14"])
def test_iana_names_are_zones(name):
    assert is_zone_name(name)


# "localtime" is the host's own zone file (a link to /etc/localtime), "Factory" the
# database's placeholder for a zone never set ("-00"): neither names a place's time.
@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "", "Mars/Olympus"])
def test_host_files_and_placeholders_are_not_zones(name):
    assert not is_zone_name(name)
