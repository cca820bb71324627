"""Country and region of a client address, from a MaxMind-format database file
(GeoLite2 / GeoIP2 City or Country, DB-IP's lite files) named by GEOIP_DATABASE and read
with `geoip2`. Without one, no location is recorded (the stats show it as unknown)."""

from dataclasses import dataclass
from functools import cache

import geoip2.database
import geoip2.errors
from django.conf import settings

from core.clients import IPAddress


@dataclass(frozen=True)
class Place:
    country: str | None  # ISO 3166-1 alpha-2, e.g. "DE"
    region: str | None  # the first subdivision's name, e.g. "Berlin"


NOWHERE = Place(None, None)


def place_of(address: IPAddress | None) -> Place:
    reader = _reader(settings.GEOIP_DATABASE)
    if reader is None or address is None or not address.is_global:
        return NOWHERE
    try:
        if reader.metadata().database_type.endswith("Country"):
            return Place(reader.country(address).country.iso_code, None)
        city = reader.city(address)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        return NOWHERE
    region = city.subdivisions.most_specific.name if city.subdivisions else None
    return Place(city.country.iso_code, region)


@cache
def _reader(path: str | None) -> geoip2.database.Reader | None:
    """One reader per file for the process (memory-mapped, safe across threads)."""
    return geoip2.database.Reader(path) if path else None


def clear_cache() -> None:
    _reader.cache_clear()
