"""API key material: generation, parsing and constant-time verification.

A key reads `et_<prefix>_<secret>`: the 12-character prefix is public (it finds
the row), the secret has 256 random bits. The database keeps only SHA-256 of
the whole key, so a leaked table cannot be replayed.
"""

import hashlib
import hmac
import secrets
import string

KEY_TAG = "et"
PREFIX_LENGTH = 12
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


def generate() -> tuple[str, str, str]:
    """A new key: (prefix, full key to show once, hash to store)."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    key = f"{KEY_TAG}_{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, key, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def prefix_of(key: str) -> str | None:
    """The public prefix of a well-formed key, else None."""
    tag, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if tag != KEY_TAG or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return prefix


def matches(key: str, hashed: str) -> bool:
    return hmac.compare_digest(digest(key), hashed)
