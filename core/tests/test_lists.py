"""The list parameters every list route shares: `limit`, `offset`, `search`. A bad one is
a 400 that names it, never a 500."""

import pytest

from core.rest import MAX_OFFSET, MAX_PAGE_SIZE

pytestmark = pytest.mark.django_db
LISTS = ["/api/events/", "/api/deletions/", "/api/insights/"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"offset": str(MAX_OFFSET + 1)}, "offset"),
        ({"offset": "23620051448290344005655045603328"}, "offset"),  # past 64 bits
        ({"offset": "-1"}, "offset"),
        ({"limit": str(MAX_PAGE_SIZE + 1)}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"search": "a\x00b"}, "search"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(api_client, path, query, name):
    response = api_client.get(path, query)

    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.pii
def test_a_large_offset_is_an_empty_page(api_client):
    response = api_client.get("/api/people/", {"offset": str(MAX_OFFSET)})

    assert response.status_code == 200
    assert response.json() == []
