"""Browser origins an ingest key may be used from (`ApiKey.allowed_origins`).

A pattern is `*` (any web origin), an exact origin `https://shop.example` (scheme,
host and port when not the default; no path), or a wildcard on subdomains:
`https://*.example.com` (that scheme) or `*.example.com` (http or https). A
wildcard matches `a.example.com` and `a.b.example.com`, not `example.com` itself.
A host is a domain name (labels of 1-63 letters, digits or hyphens, not at either end;
non-ASCII names stored as IDNA punycode), an IPv4 address, or an IPv6 one in brackets.
"""

import ipaddress
import re
from urllib.parse import urlsplit

ANY = "*"
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_DOMAIN = 253


def normalise_origin_pattern(pattern: str) -> str:
    """`pattern` in canonical form (lower case, no default port), or ValueError."""
    text = pattern.strip().lower().rstrip("/")
    if text == ANY:
        return ANY
    if text.startswith("*."):
        return f"*.{_host(text[2:])}"
    scheme, host, port = _split(text)
    host = f"*.{_domain(host[2:])}" if host.startswith("*.") else _domain(host)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def origin_allowed(origin: str, patterns: list[str]) -> bool:
    """Whether the `Origin` header value `origin` matches one of `patterns`."""
    try:
        scheme, host, port = _split(origin.strip().lower())
    except ValueError:
        return False  # "null" (sandboxed pages, file://) and anything unreadable
    suffix = f":{port}" if port else ""
    for pattern in patterns:
        if pattern == ANY or pattern == f"{scheme}://{host}{suffix}":
            return True
        wildcard = pattern.split("://", 1)[-1]
        if not wildcard.startswith("*."):
            continue
        if "://" in pattern and not pattern.startswith(f"{scheme}://"):
            continue
        domain, _, pattern_port = wildcard[2:].partition(":")
        if host.endswith(f".{domain}") and pattern_port == (str(port) if port else ""):
            return True
    return False


def _split(text: str) -> tuple[str, str, int | None]:
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise ValueError("An origin is scheme://host[:port], with http or https.")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("An origin has no path, query, fragment or user.")
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    port = parts.port  # ValueError for a bad port
    if port == 0:
        raise ValueError("Port 0 is not a port.")
    if port == DEFAULT_PORTS[parts.scheme]:
        port = None
    if not host or host.endswith(":"):
        raise ValueError("An origin needs a host.")
    return parts.scheme, host, port


def _host(text: str) -> str:
    """`domain[:port]` of a scheme-less wildcard, checked and normalised."""
    host, colon, port = text.partition(":")
    if colon and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"'{port}' is not a port.")
    return _domain(host) + (f":{int(port)}" if colon else "")


def _domain(host: str) -> str:
    """`host` as stored (punycode), or ValueError naming what is wrong with it."""
    if host.startswith("[") and host.endswith("]"):
        ipaddress.IPv6Address(host[1:-1])  # ValueError names the address
        return host
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"'{host}' is not a domain name.") from None
    if len(ascii_host) > MAX_DOMAIN:
        raise ValueError(f"A domain name has at most {MAX_DOMAIN} characters.")
    for label in ascii_host.split("."):
        if not LABEL.fullmatch(label):
            raise ValueError(
                f"'{label}' is not a label of a domain name: 1 to 63 letters, digits or "
                "hyphens, not starting or ending with a hyphen (a wildcard is one leading *.)."
            )
    return ascii_host
