"""Cookieless visitors: an id from a salted hash of the site, the client's address and
its User-Agent, with a salt that changes every UTC day, as Plausible counts. The page
stores nothing and sends no id, so no consent banner is needed; the price is that a
visitor is a new one each day and on each device or network (see the README)."""

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction

from core.caches import LockedLRU
from core.clients import IPAddress
from events.models import VisitorSalt

PREFIX = "anon-"  # cookieless ids never collide with the tracker's uuids or a user's id
_salts: LockedLRU[dt.date, bytes] = LockedLRU(size=4)


def visitor_id(*, tenant_id: int, site: str, address: IPAddress | None, user_agent: str,
               day: dt.date) -> str:  # fmt: skip
    material = f"{tenant_id}\n{site}\n{address or ''}\n{user_agent}".encode()
    digest = hashlib.blake2b(material, key=salt_of(day), digest_size=10).hexdigest()
    return PREFIX + digest


def salt_of(day: dt.date) -> bytes:
    """The salt of a UTC day, made on its first use; making one forgets those older
    than the day before."""
    cached = _salts.get(day)
    if cached is not None:
        return cached
    found = VisitorSalt.objects.filter(day=day).values_list("salt", flat=True).first()
    if found is None:
        try:
            with transaction.atomic():
                VisitorSalt.objects.create(day=day, salt=secrets.token_bytes(32))
        except IntegrityError:
            pass  # another process made it first: use theirs
        VisitorSalt.objects.filter(day__lt=day - dt.timedelta(days=1)).delete()
        found = VisitorSalt.objects.values_list("salt", flat=True).get(day=day)
    salt = bytes(found)
    _salts.put(day, salt)
    return salt


def clear_cache() -> None:
    _salts.clear()
