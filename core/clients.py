"""Who sent a request: the client's address, read through the trusted proxies.

One rule for every use (the tenant blocklists, /metrics): the socket peer is the
client unless it is one of TRUSTED_PROXIES; then X-Forwarded-For is read from the
right. Written here rather than taken from django-ipware, whose trusted proxies are
address prefixes, not networks, and which reads the header from the left.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_address(request: HttpRequest) -> IPAddress | None:
    """The client's address: the socket peer, unless that peer is a trusted proxy; then
    X-Forwarded-For is read from the right, skipping trusted proxies, and the first
    address not among them is the client. A spoofed header from an untrusted peer is
    ignored; an unreadable entry stops the walk at the last trusted hop."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    trusted = settings.TRUSTED_PROXIES
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    client = peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return client


def _is_trusted(address: IPAddress, trusted: list[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address
