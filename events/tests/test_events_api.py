"""`/api/events/`: CRUD, search, ordering, paging, name rules and tenant isolation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from events.tests.factories import EventFactory, EventLogFactory

LIST_URLS = ["/api/events/", "/api/events"]
EVENT_FIELDS = {"id", "name", "description", "created_at", "modified_at"}


def detail_urls(pk: int) -> list[str]:
    return [f"/api/events/{pk}", f"/api/events/{pk}/"]


@pytest.fixture(params=["no_slash", "slash"])
def detail_url(request):
    """Build a detail URL in both forms (seed 001 calls `/api/events/1` without a slash)."""
    suffix = "" if request.param == "no_slash" else "/"
    return lambda pk: f"/api/events/{pk}{suffix}"


# --- create -------------------------------------------------------------------------


@pytest.mark.parametrize("url", LIST_URLS)
def test_create_event_returns_201_with_all_fields(api_client, tenant, url):
    response = api_client.post(url, {"name": "test", "description": "testing event creation"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == EVENT_FIELDS
    assert body["name"] == "test"
    assert body["description"] == "testing event creation"
    event = Event.objects.get(pk=body["id"])
    assert event.tenant == tenant


def test_create_event_description_is_optional(api_client):
    response = api_client.post("/api/events/", {"name": "signup"})

    assert response.status_code == 201
    assert response.json()["description"] == ""


def test_create_duplicate_name_is_400_naming_name(api_client, tenant):
    EventFactory(tenant=tenant, name="test")

    response = api_client.post("/api/events/", {"name": "test"})

    assert response.status_code == 400
    assert "name" in response.json()
    assert Event.objects.filter(tenant=tenant, name="test").count() == 1


def test_same_name_in_another_tenant_is_allowed(api_client, tenant, other_tenant):
    EventFactory(tenant=other_tenant, name="test")

    response = api_client.post("/api/events/", {"name": "test"})

    assert response.status_code == 201
    assert Event.objects.filter(name="test").count() == 2


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 201, id="201-chars"),
        pytest.param("bad\x07name", id="control-char"),
        pytest.param("tab\tname", id="tab"),
    ],
)
def test_create_rejects_bad_names(api_client, name):
    response = api_client.post("/api/events/", {"name": name})

    assert response.status_code == 400
    assert "name" in response.json()
    assert not Event.objects.exists()


def test_create_accepts_200_char_name(api_client):
    response = api_client.post("/api/events/", {"name": "x" * 200})

    assert response.status_code == 201


def test_create_unknown_field_is_400_naming_it(api_client):
    response = api_client.post("/api/events/", {"name": "test", "colour": "red"})

    assert response.status_code == 400
    assert "colour" in response.json()
    assert not Event.objects.exists()


def test_create_ignores_tenant_in_body(api_client, tenant, other_tenant):
    response = api_client.post("/api/events/", {"name": "test", "tenant": other_tenant.pk})

    # `tenant` is not a field of the API: refused, never honoured.
    assert response.status_code == 400
    assert not Event.objects.filter(tenant=other_tenant).exists()


# --- list, search, ordering, paging --------------------------------------------------


@pytest.mark.parametrize("url", LIST_URLS)
def test_list_is_empty_json_array(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 200
    assert response.json() == []
    assert response["X-Total-Count"] == "0"


def test_list_returns_only_own_events(api_client, tenant, other_tenant):
    mine = EventFactory(tenant=tenant, name="mine")
    EventFactory(tenant=other_tenant, name="theirs")

    response = api_client.get("/api/events/")

    assert [row["id"] for row in response.json()] == [mine.pk]
    assert response["X-Total-Count"] == "1"


def test_list_paginates_with_link_header(api_client, tenant):
    first, second = EventFactory(tenant=tenant), EventFactory(tenant=tenant)

    response = api_client.get("/api/events/?limit=1")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [first.pk]
    assert response["X-Total-Count"] == "2"
    assert 'rel="next"' in response["Link"]
    next_url = response["Link"].split(">")[0].lstrip("<")
    assert "offset=1" in next_url
    assert [row["id"] for row in api_client.get(next_url).json()] == [second.pk]


@pytest.mark.parametrize(
    ("events", "query", "shown", "total", "counted"),
    [
        (3, "", 3, 3, False),  # one short page: it holds the end, no count query
        (0, "", 0, 0, False),
        (5, "?limit=2&offset=4", 1, 5, False),  # the last, short page
        (5, "?limit=2", 2, 5, True),  # a full page: there may be more
        (5, "?limit=5", 5, 5, True),
        (3, "?offset=10", 0, 3, True),  # past the end: counted
    ],
)
def test_list_totals_are_exact_and_counted_only_when_needed(
    api_client, tenant, events, query, shown, total, counted
):
    for _ in range(events):
        EventFactory(tenant=tenant)
    api_client.get("/api/events/")  # the credential cached: only the list's queries below

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(f"/api/events/{query}")

    assert len(response.json()) == shown
    assert response["X-Total-Count"] == str(total)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert bool(counts) == counted, counts


def test_list_without_more_pages_has_no_next_link(api_client, tenant):
    EventFactory(tenant=tenant)

    response = api_client.get("/api/events/")

    assert 'rel="next"' not in response.headers.get("Link", "")


@pytest.mark.parametrize("limit", ["1001", "abc", "0", "-1"])
def test_list_bad_limit_is_400_naming_limit(api_client, limit):
    response = api_client.get(f"/api/events/?limit={limit}")

    assert response.status_code == 400
    assert "limit" in response.json()


def test_list_limit_1000_is_allowed(api_client):
    assert api_client.get("/api/events/?limit=1000").status_code == 200


def test_search_matches_name_and_description(api_client, tenant, other_tenant):
    by_name = EventFactory(tenant=tenant, name="purchase")
    by_description = EventFactory(tenant=tenant, name="buy", description="a PURCHASE happened")
    EventFactory(tenant=tenant, name="signup", description="new account")
    EventFactory(tenant=other_tenant, name="purchase")

    response = api_client.get("/api/events/?search=purchase")

    assert response.status_code == 200
    assert {row["id"] for row in response.json()} == {by_name.pk, by_description.pk}


def test_search_with_many_terms_matches_all_of_them(api_client, tenant):
    both = EventFactory(tenant=tenant, name="red apple", description="fresh")
    EventFactory(tenant=tenant, name="red car")

    terms = " ".join(["red", "apple", "fresh", *["e"] * 17])  # MAX_SEARCH_TERMS
    response = api_client.get("/api/events/", {"search": terms})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [both.pk]


@pytest.mark.parametrize("count", [21, 1000])
def test_search_with_too_many_terms_is_400_naming_search(api_client, count):
    # ~900 terms used to overflow SQLite's expression tree: a 500.
    response = api_client.get("/api/events/", {"search": " ".join(["a"] * count)})

    assert response.status_code == 400
    assert "search" in response.json()


def test_ordering_by_name_descending(api_client, tenant):
    for name in ["banana", "apple", "cherry"]:
        EventFactory(tenant=tenant, name=name)

    response = api_client.get("/api/events/?ordering=-name")

    assert [row["name"] for row in response.json()] == ["cherry", "banana", "apple"]


def test_list_query_count_does_not_grow_with_events(
    api_client, tenant, django_assert_max_num_queries
):
    for _ in range(5):
        event = EventFactory(tenant=tenant)
        EventLogFactory(event=event)

    # auth (token + user + tenant in one join), count, page.
    with django_assert_max_num_queries(3):
        response = api_client.get("/api/events/")

    assert len(response.json()) == 5


# --- retrieve, update, delete (both URL forms) --------------------------------------


def test_retrieve_event(api_client, tenant, detail_url):
    event = EventFactory(tenant=tenant, name="test", description="d")

    response = api_client.get(detail_url(event.pk))

    assert response.status_code == 200
    assert response.json()["name"] == "test"
    assert set(response.json()) == EVENT_FIELDS


def test_put_replaces_event(api_client, tenant, detail_url):
    event = EventFactory(tenant=tenant, name="old", description="old description")

    response = api_client.put(detail_url(event.pk), {"name": "new", "description": "new one"})

    assert response.status_code == 200
    event.refresh_from_db()
    assert (event.name, event.description) == ("new", "new one")


def test_patch_updates_description_and_modified_at(api_client, tenant, detail_url):
    event = EventFactory(tenant=tenant, name="test")
    created = api_client.get(detail_url(event.pk)).json()

    response = api_client.patch(detail_url(event.pk), {"description": "modified description"})

    assert response.status_code == 200
    body = response.json()
    assert body["description"] == "modified description"
    assert body["name"] == "test"
    assert body["modified_at"] >= created["modified_at"]
    event.refresh_from_db()
    assert event.description == "modified description"


def test_delete_event(api_client, tenant, detail_url):
    event = EventFactory(tenant=tenant)

    response = api_client.delete(detail_url(event.pk))

    assert response.status_code == 204
    assert not Event.objects.filter(pk=event.pk).exists()


def test_missing_event_is_404(api_client, detail_url):
    assert api_client.get(detail_url(999999)).status_code == 404
    assert api_client.get(detail_url("abc")).status_code == 404
    assert api_client.get(detail_url("-1")).status_code == 404
    assert api_client.get(detail_url(10**30)).status_code == 404  # beyond bigint


def test_rename_to_existing_name_is_400_naming_name(api_client, tenant, detail_url):
    EventFactory(tenant=tenant, name="taken")
    event = EventFactory(tenant=tenant, name="free")

    response = api_client.patch(detail_url(event.pk), {"name": "taken"})

    assert response.status_code == 400
    assert "name" in response.json()
    event.refresh_from_db()
    assert event.name == "free"


def test_rename_to_name_used_by_other_tenant_is_allowed(api_client, tenant, other_tenant):
    EventFactory(tenant=other_tenant, name="taken")
    event = EventFactory(tenant=tenant, name="free")

    response = api_client.patch(f"/api/events/{event.pk}", {"name": "taken"})

    assert response.status_code == 200


@pytest.mark.parametrize("name", ["", "x" * 201, "bad\x07name"])
def test_update_rejects_bad_names(api_client, tenant, detail_url, name):
    event = EventFactory(tenant=tenant, name="good")

    response = api_client.patch(detail_url(event.pk), {"name": name})

    assert response.status_code == 400
    assert "name" in response.json()
    event.refresh_from_db()
    assert event.name == "good"


def test_update_unknown_field_is_400_naming_it(api_client, tenant, detail_url):
    event = EventFactory(tenant=tenant)

    response = api_client.patch(detail_url(event.pk), {"colour": "red"})

    assert response.status_code == 400
    assert "colour" in response.json()


# --- tenant isolation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("get", None),
        ("put", {"name": "hijacked", "description": "x"}),
        ("patch", {"description": "hijacked"}),
        ("delete", None),
    ],
)
def test_other_tenants_event_is_404_and_unchanged(
    api_client, other_tenant, detail_url, method, body
):
    theirs = EventFactory(tenant=other_tenant, name="theirs", description="original")

    response = getattr(api_client, method)(detail_url(theirs.pk), body)

    assert response.status_code == 404
    theirs.refresh_from_db()  # still exists
    assert (theirs.name, theirs.description) == ("theirs", "original")


def test_names_keep_their_spaces_like_ingestion_does(api_client, tenant):
    api_client.post("/api/eventlogs/", {"event_name": " padded "}, format="json")
    event = Event.objects.get(tenant=tenant)

    response = api_client.put(
        f"/api/events/{event.pk}", {"name": " padded ", "description": "d"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == " padded "
    assert Event.objects.get(pk=event.pk).name == " padded "
