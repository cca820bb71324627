"""/api/people/: profiles by distinct_id, lookups by email, validation, tenancy, key roles."""

import json
import uuid

import pytest

from events.tests.factories import EventLogFactory
from people.models import Person
from people.tests.factories import PersonFactory

pytestmark = pytest.mark.pii

PEOPLE = "/api/people/"
SEED_002_USER = {
    "email": "jan@shop.example",
    "username": "jan",
    "first_name": "Jan",
    "last_name": "Kowalski",
    "phone": 48123456789,
}


def test_create_generates_a_distinct_id_and_stores_phone_as_text(api_client, tenant):
    response = api_client.post(PEOPLE, SEED_002_USER, format="json")

    body = response.json()
    assert response.status_code == 201
    assert uuid.UUID(body["distinct_id"])
    assert body["phone"] == "48123456789"
    assert {key: body[key] for key in ("email", "username", "first_name", "last_name")} == {
        key: SEED_002_USER[key] for key in ("email", "username", "first_name", "last_name")
    }
    person = Person.objects.get(distinct_id=body["distinct_id"])
    assert person.tenant_id == tenant.pk
    assert person.properties == {}


def test_create_keeps_a_given_distinct_id_and_properties(api_client):
    payload = {"distinct_id": "cust-42", "properties": {"plan": "gold", "tags": ["a"]}}

    response = api_client.post(PEOPLE, payload, format="json")

    assert response.status_code == 201
    assert response.json()["distinct_id"] == "cust-42"
    assert response.json()["properties"] == {"plan": "gold", "tags": ["a"]}


def test_phone_separators_are_dropped(api_client):
    response = api_client.post(PEOPLE, {"phone": "+1 (555) 010-9999"}, format="json")

    assert response.status_code == 201
    assert response.json()["phone"] == "+15550109999"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"phone": "+1234567890123456"}, "phone"),
        ({"phone": 1.5}, "phone"),
        ({"phone": True}, "phone"),
        ({"distinct_id": ""}, "distinct_id"),
        ({"distinct_id": "a/b"}, "distinct_id"),
        ({"distinct_id": "tab\there"}, "distinct_id"),
        # dot segments: clients and proxies resolve /api/people/../export to /api/export
        ({"distinct_id": "."}, "distinct_id"),
        ({"distinct_id": ".."}, "distinct_id"),
        ({"distinct_id": "x" * 201}, "distinct_id"),
        ({"properties": [1, 2]}, "properties"),
        ({"username": "u" * 151}, "username"),
        ({"tenant_id": 1}, "tenant_id"),
        ({"store_id": 1}, "store_id"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_client, payload, field):
    response = api_client.post(PEOPLE, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Person.objects.exists()


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"distinct_id": "same"}, {"distinct_id": "same"}, "distinct_id"),
        ({"email": "a@shop.example"}, {"email": "a@shop.example"}, "email"),
        ({"email": "a@shop.example"}, {"email": "A@Shop.Example"}, "email"),
    ],
)
def test_duplicates_in_a_tenant_are_400(api_client, first, second, field):
    assert api_client.post(PEOPLE, first, format="json").status_code == 201

    response = api_client.post(PEOPLE, second, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert Person.objects.count() == 1


@pytest.mark.parametrize(
    ("stored", "other_forms"),
    [
        ("a@BÜCHER.example", ["a@bücher.example", "A@Bu\u0308cher.example"]),  # SQLite: ASCII only
        ("x@İSTANBUL.example", ["X@i\u0307stanbul.example"]),  # PostgreSQL lowers İ to i
        ("a@Straße.example", ["A@STRASSE.example"]),
    ],
)
def test_unicode_emails_are_found_and_unique_ignoring_case(api_client, stored, other_forms):
    """Lookups and uniqueness compare one key on every database, for any Unicode email."""
    created = api_client.post(PEOPLE, {"email": stored}, format="json")
    assert created.status_code == 201, created.content

    for form in [stored, *other_forms]:
        found = api_client.get(f"{PEOPLE}by-email/{form}")
        listed = api_client.get(PEOPLE, {"email": form}).json()
        duplicate = api_client.post(PEOPLE, {"email": form}, format="json")

        assert found.status_code == 200, form
        assert found.json()["email"] == stored
        assert [row["email"] for row in listed] == [stored]
        assert duplicate.status_code == 400, form
        assert list(duplicate.json()) == ["email"]
    assert Person.objects.count() == 1


def test_people_without_email_do_not_collide(api_client):
    for _ in range(2):
        assert api_client.post(PEOPLE, {"username": "anon"}, format="json").status_code == 201


def test_the_same_email_and_distinct_id_may_exist_in_another_tenant(api_client, other_client):
    payload = {"distinct_id": "cust-1", "email": "a@shop.example"}

    assert api_client.post(PEOPLE, payload, format="json").status_code == 201
    assert other_client.post(PEOPLE, payload, format="json").status_code == 201


def test_retrieve_patch_and_delete_by_distinct_id(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="user.name@example.com", first_name="Old")
    url = f"{PEOPLE}user.name@example.com"

    assert api_client.get(url).json()["first_name"] == "Old"
    patched = api_client.patch(url, {"first_name": "New", "phone": "+4915112345678"})
    assert patched.status_code == 200
    assert patched.json()["first_name"] == "New"
    assert Person.objects.get().phone == "+4915112345678"
    assert api_client.delete(url).status_code == 204
    assert not Person.objects.exists()
    assert api_client.get(url).status_code == 404


def test_patch_cannot_change_the_distinct_id_or_take_a_used_email(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="a", email="a@shop.example")
    PersonFactory(tenant_id=tenant.pk, distinct_id="b", email="b@shop.example")

    moved = api_client.patch(f"{PEOPLE}a", {"distinct_id": "c"}, format="json")
    taken = api_client.patch(f"{PEOPLE}a", {"email": "B@shop.example"}, format="json")
    same = api_client.patch(f"{PEOPLE}a", {"distinct_id": "a", "email": "A@shop.example"})

    assert moved.status_code == 400
    assert "distinct_id" in moved.json()
    assert taken.status_code == 400
    assert list(taken.json()) == ["email"]
    assert same.status_code == 200


def test_list_searches_every_text_field(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="p1", last_name="Curie", phone="+331234567")
    PersonFactory(tenant_id=tenant.pk, distinct_id="p2", last_name="Hopper")

    def found(term: str) -> list[str]:
        return [row["distinct_id"] for row in api_client.get(PEOPLE, {"search": term}).json()]

    assert found("curie") == ["p1"]
    assert found("+3312") == ["p1"]
    assert found("p2") == ["p2"]
    assert found("buyer") == ["p1", "p2"]


def test_list_is_paginated_and_its_query_count_pinned(
    api_client, tenant, django_assert_max_num_queries
):
    PersonFactory.create_batch(5, tenant_id=tenant.pk)

    with django_assert_max_num_queries(4):
        response = api_client.get(PEOPLE, {"limit": 2})

    assert response.status_code == 200
    assert len(response.json()) == 2
    assert response["X-Total-Count"] == "5"
    assert 'rel="next"' in response["Link"]


def test_email_filter_and_seed_002_lookup_ignore_case(api_client, tenant):
    person = PersonFactory(tenant_id=tenant.pk, email="Jan@Shop.example")
    PersonFactory(tenant_id=tenant.pk)

    listed = api_client.get(PEOPLE, {"email": "jan@shop.EXAMPLE"}).json()
    looked_up = api_client.get(f"{PEOPLE}by-email/JAN@shop.example")

    assert [row["distinct_id"] for row in listed] == [person.distinct_id]
    assert looked_up.status_code == 200
    assert looked_up.json()["distinct_id"] == person.distinct_id
    assert looked_up.json()["email"] == "Jan@Shop.example"
    assert api_client.get(f"{PEOPLE}by-email/nobody@shop.example").status_code == 404


def test_another_tenants_people_are_404_and_unlisted(api_client, other_client, other_tenant):
    theirs = PersonFactory(tenant_id=other_tenant.pk, distinct_id="theirs", email="t@x.example")
    url = f"{PEOPLE}theirs"

    assert api_client.get(PEOPLE).json() == []
    assert api_client.get(PEOPLE, {"email": "t@x.example"}).json() == []
    assert api_client.get(url).status_code == 404
    assert api_client.get(f"{PEOPLE}by-email/t@x.example").status_code == 404
    assert api_client.patch(url, {"first_name": "X"}).status_code == 404
    assert api_client.delete(url).status_code == 404
    assert api_client.delete(f"{url}?erase_events=true").status_code == 404
    assert api_client.get(f"{url}/export").status_code == 404
    assert api_client.delete(f"{url}/events").status_code == 404
    theirs.refresh_from_db()
    assert theirs.first_name == "Ada"
    assert other_client.get(url).status_code == 200


def test_read_keys_read_admin_keys_write_ingest_keys_nothing(key_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="p1", email="p1@shop.example")
    read, admin, ingest = key_client("read"), key_client("admin"), key_client("ingest")

    assert read.get(PEOPLE).status_code == 200
    assert read.get(f"{PEOPLE}p1").status_code == 200
    assert read.get(f"{PEOPLE}by-email/p1@shop.example").status_code == 200
    assert read.get(f"{PEOPLE}p1/export").status_code == 200
    assert read.post(PEOPLE, {"username": "x"}).status_code == 403
    assert read.patch(f"{PEOPLE}p1", {"username": "x"}).status_code == 403
    assert read.delete(f"{PEOPLE}p1").status_code == 403
    assert read.delete(f"{PEOPLE}p1/events").status_code == 403
    for method, url in (("get", PEOPLE), ("post", PEOPLE), ("get", f"{PEOPLE}p1")):
        assert getattr(ingest, method)(url).status_code == 403
    assert admin.post(PEOPLE, {"username": "x"}).status_code == 201
    assert admin.patch(f"{PEOPLE}p1", {"username": "y"}).status_code == 200
    assert admin.delete(f"{PEOPLE}p1").status_code == 204


def test_anonymous_requests_are_401(anon_client):
    assert anon_client.get(PEOPLE).status_code == 401
    assert anon_client.post(PEOPLE, {}).status_code == 401


def test_delete_without_erase_keeps_the_events(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="p1")
    EventLogFactory(event__tenant=tenant, distinct_id="p1")

    assert api_client.delete(f"{PEOPLE}p1").status_code == 204
    assert api_client.get("/api/eventlogs/", {"distinct_id": "p1"}).json() != []


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_erase_flag_is_400(api_client, tenant, value):
    PersonFactory(tenant_id=tenant.pk, distinct_id="p1")

    response = api_client.delete(f"{PEOPLE}p1?erase_events={value}")

    assert response.status_code == 400
    assert "erase_events" in response.json()
    assert Person.objects.filter(distinct_id="p1").exists()


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
@pytest.mark.parametrize("path", ["%00", "a%00/", "a%00/events", "by-email/a%00"])
def test_a_nul_in_the_path_is_a_404(api_client, method, path):
    """No distinct_id or email holds a NUL (PostgreSQL's text cannot): a 404, not a 500."""
    response = getattr(api_client, method)(f"{PEOPLE}{path}", {}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize("distinct_id", ["...", ".a", "a.", "a..b"])
def test_dots_that_are_no_dot_segment_make_a_distinct_id(api_client, distinct_id):
    created = api_client.post(PEOPLE, {"distinct_id": distinct_id}, format="json")

    exported = api_client.get(f"{PEOPLE}{distinct_id}/export")

    assert created.status_code == 201
    assert json.loads(b"".join(exported.streaming_content))["person"]["distinct_id"] == distinct_id
