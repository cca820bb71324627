"""/favicon.ico: browsers ask for it on every page that names no icon of its own (the
browsable API, the admin); a 404 there is an error in their console."""

from django.test import Client


def test_the_favicon_is_served_at_the_root():
    response = Client().get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
