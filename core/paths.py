"""Whether a request's path was UTF-8.

Django re-percent-encodes the bytes of a path that are not UTF-8 (RFC 3987): `%ff`
reaches the URL resolver and the views as the text `%FF`, the very text a client gets
by writing `%25FF`. It then overwrites the environ's PATH_INFO with that text, so only
a receiver of `request_started` (sent with the WSGI environ before Django reads it)
still sees the bytes: it marks the environ, which is the request's META.
"""

from django.http import HttpRequest

NOT_UTF8 = "eventtracker.path_not_utf8"


def mark_path_not_utf8(sender, environ=None, **kwargs) -> None:
    """`request_started` receiver: mark a WSGI environ whose PATH_INFO is not UTF-8
    (a WSGI server hands the path's bytes over as Latin-1 text, PEP 3333)."""
    if environ is None:  # ASGI sends the scope instead
        return
    try:
        environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        environ[NOT_UTF8] = True


def path_is_utf8(request: HttpRequest) -> bool:
    return not request.META.get(NOT_UTF8, False)
