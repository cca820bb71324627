"""The baseline: the smallest WSGI app, served by the same gunicorn settings as the service."""

BODY = b'"hello"'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    """Read (and drop) any request body, as the service does, then answer 200."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]
