"""The time zone names the service accepts: every route's `tz`, a dashboard's, a
tenant's, and the web forms' choices."""

import zoneinfo
from functools import cache

# Found among zoneinfo's names, yet no place's time: "localtime" is the host's own zone
# (a link to /etc/localtime, where one exists), "Factory" the database's placeholder for
# a zone never set (abbreviated "-00").
NOT_ZONES = frozenset({"localtime", "Factory"})


@cache
def zone_names() -> frozenset[str]:
    """The IANA names of the zone database (UTC included), read once per process."""
    return frozenset(zoneinfo.available_timezones() - NOT_ZONES)


def is_zone_name(value: object) -> bool:
    return isinstance(value, str) and value in zone_names()
