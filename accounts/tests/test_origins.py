"""`allowed_origins` patterns: scheme://host[:port], `*.` before a domain, or `*`; each
host label 1-63 letters, digits or hyphens (not at either end)."""

import pytest

from accounts.origins import normalise_origin_pattern

pytestmark = pytest.mark.django_db
KEYS = "/api/keys/"


@pytest.mark.parametrize(
    ("pattern", "stored"),
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example:443/", "https://shop.example"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://*.shop.example", "https://*.shop.example"),
        ("*.shop.example", "*.shop.example"),
        ("*.shop.example:8443", "*.shop.example:8443"),
        ("*", "*"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://a-b.example", "https://a-b.example"),
        ("https://" + "a" * 63 + ".example", "https://" + "a" * 63 + ".example"),
    ],
)
def test_good_patterns_are_stored_normalised(pattern, stored):
    assert normalise_origin_pattern(pattern) == stored


@pytest.mark.parametrize(
    "pattern",
    [
        "https://x..example",
        "https://" + "a" * 300 + ".example",
        "https://" + "a" * 64 + ".example",
        "https://*",
        "*.*.example",
        "https://*.*.example",
        "https://a.*.example",
        "*.",
        "https://-shop.example",
        "https://shop-.example",
        "https://sh_op.example",
        "https://shop.example.",
        "*.shop.example:99999",
        "*.shop.example:",
        "https://shop.example:0",
    ],
)
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValueError, match=r"."):
        normalise_origin_pattern(pattern)


@pytest.mark.parametrize(
    "origin",
    ["https://x..example", "https://" + "a" * 300 + ".example", "https://*", "*.*.example"],
)
def test_a_bad_origin_is_a_400_naming_it(api_client, origin):
    response = api_client.post(
        KEYS,
        {"name": "web", "role": "ingest", "allowed_origins": ["https://ok.example", origin]},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["allowed_origins"]
    assert origin in response.json()["allowed_origins"][0]
