"""The list parameters every list route shares: `limit`, `offset`, `search`, and the
filters: a bad one is a 400 that names it, never a 500 nor an unfiltered list."""

import pytest

from accounts.tests.factories import UserFactory
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
        ({"ordering": "no-such-field"}, "ordering"),
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


@pytest.mark.parametrize("value", ["banana", "99999999999999999999999", "yes"])
def test_a_boolean_filter_that_is_not_a_boolean_is_a_400(api_client, value):
    """django-filter read any other value as "no filter" and listed every row."""
    response = api_client.get("/api/members/", {"is_active": value})

    assert response.status_code == 400
    assert list(response.json()) == ["is_active"]


@pytest.mark.parametrize(("value", "active"), [("false", False), ("0", False), ("True", True)])
def test_a_boolean_filter_filters(api_client, user, value, active):
    UserFactory(tenant=user.tenant, username="gone", is_active=False)

    response = api_client.get("/api/members/", {"is_active": value})

    assert response.status_code == 200
    assert {member["is_active"] for member in response.json()} == {active}


def test_an_ordering_error_names_the_fields_the_list_orders_by(api_client):
    response = api_client.get("/api/members/", {"ordering": "-password"})

    assert response.json() == {
        "ordering": [
            "Unknown field: order by id, username, date_joined (a '-' before one: descending)."
        ]
    }


def test_a_trailing_comma_in_ordering_is_no_error(api_client):
    assert api_client.get("/api/members/", {"ordering": "-username,"}).status_code == 200
