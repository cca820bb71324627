"""Who sent a request: the client's address, read through the trusted proxies.

One rule for every use (the tenant blocklists, /metrics): the socket peer is the
client unless it is one of TRUSTED_PROXIES; then X-Forwarded-For is read from the
right. Written here rather than taken from django-ipware, whose trusted proxies are
address prefixes, not networks, and which reads the header from the left. A hop may
carry a port, as some proxies write it: `192.0.2.1:443`, `[2001:db8::1]` and
`[2001:db8::1]:443` are read as their address (no installed library parses these; the
standard library's ipaddress does the rest). The RFC 7239 `Forwarded` header is not
read.
"""

import ipaddress
import re

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A hop with a port or brackets: `[v6]`, `[v6]:port` or `v4:port` (a bare IPv6 address
# has colons of its own, so only brackets can set its port apart).
_HOP_RE = re.compile(
    r"\[(?P<v6>[^\]]+)\](?::(?P<v6port>\d{1,5}))?|(?P<v4>[\d.]+):(?P<v4port>\d{1,5})"
)


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
        address = _hop_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return client


def forwarded_by_a_stranger(request: HttpRequest) -> bool:
    """An X-Forwarded-For that client_address did not read, its peer being no trusted
    proxy: a proxy not listed in TRUSTED_PROXIES forwarded the request, and the peer's
    address (127.0.0.1 for a proxy on this host) says nothing of the client's."""
    if "HTTP_X_FORWARDED_FOR" not in request.META:
        return False
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    return peer is None or not _is_trusted(peer, settings.TRUSTED_PROXIES)


def _is_trusted(address: IPAddress, trusted: list[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


def _hop_address(text: str) -> IPAddress | None:
    """The address of an X-Forwarded-For hop: a bare address, `v4:port`, `[v6]` or
    `[v6]:port`; None for anything else (a port past 65535)."""
    match = _HOP_RE.fullmatch(text)
    if match is None:
        return _address(text)
    port = match["v6port"] or match["v4port"]
    if port is not None and int(port) > 65535:
        return None
    return _address(match["v6"] or match["v4"])
