"""The admin's person form keeps the API's rules: a distinct_id fixed once the person
exists, properties a JSON object."""

import re

import pytest
from django.contrib.admin import ModelAdmin
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.admin_mixins import CappedCountPaginator
from people.models import Person
from people.tests.factories import PersonFactory

pytestmark = pytest.mark.pii
PEOPLE = "/admin/people/person/"


def _form(person: Person, **fields) -> dict:
    stored = {
        "email": person.email,
        "username": person.username,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "phone": person.phone,
        "properties": "{}",
    }
    return {**stored, **fields}


def test_a_persons_distinct_id_cannot_be_renamed(admin_client, tenant):
    """Renamed, the profile parted from its events: an erasure or export missed them."""
    person = PersonFactory(tenant_id=tenant.pk, distinct_id="u1")

    response = admin_client.post(
        f"{PEOPLE}{person.pk}/change/", _form(person, distinct_id="u1-renamed")
    )

    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).distinct_id == "u1"


@pytest.mark.parametrize("properties", ["null", "[1, 2]", '"text"'])
def test_properties_must_be_a_json_object(admin_client, tenant, properties):
    person = PersonFactory(tenant_id=tenant.pk, properties={"plan": "pro"})

    response = admin_client.post(
        f"{PEOPLE}{person.pk}/change/", _form(person, properties=properties)
    )

    assert response.status_code == 200  # the form again: null was a 500
    assert response.context["adminform"].form.errors["properties"] == ["Must be a JSON object."]
    assert Person.objects.get(pk=person.pk).properties == {"plan": "pro"}


@pytest.mark.parametrize("distinct_id", ["a/b", "tab\there", "", ".", ".."])
def test_a_new_persons_distinct_id_follows_the_apis_rule(admin_client, tenant, distinct_id):
    form = {"tenant_id": tenant.pk, "distinct_id": distinct_id, "properties": "{}"}

    response = admin_client.post(f"{PEOPLE}add/", form)

    assert response.status_code == 200
    assert "distinct_id" in response.context["adminform"].form.errors
    assert not Person.objects.exists()


def test_people_are_filtered_by_tenant(admin_client, tenant, other_tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="ours")
    PersonFactory(tenant_id=other_tenant.pk, distinct_id="theirs")

    page = admin_client.get(f"{PEOPLE}?tenant_id={other_tenant.pk}")

    listed = [person.distinct_id for person in page.context["cl"].result_list]
    assert listed == ["theirs"]
    assert page.context["cl"].has_filters


@pytest.mark.parametrize(
    "properties",
    [
        '{"a": "\\u0000"}',
        '{"\\u0000": 1}',
        '{"a": 1e400}',
        '{"a": NaN}',
        '{"a": 99999999999999999999999}',
        '{"a": "\\ud800"}',
        '"\\ud800"',
        "[" * 5000,
        '{"a": ' * 40 + "1" + "}" * 40,
    ],
)
def test_properties_are_refused_as_the_api_refuses_them(admin_client, tenant, properties):
    """A NUL or an Infinity was a 500 from PostgreSQL, deep nesting a RecursionError, a
    lone surrogate a page that could not be written."""
    person = PersonFactory(tenant_id=tenant.pk, properties={"plan": "pro"})

    response = admin_client.post(
        f"{PEOPLE}{person.pk}/change/", _form(person, properties=properties)
    )
    added = admin_client.post(
        f"{PEOPLE}add/",
        {**_form(person, properties=properties), "tenant_id": tenant.pk, "distinct_id": "new"},
    )

    for answer in (response, added):
        assert answer.status_code == 200
        assert answer.context["adminform"].form.errors["properties"]
        answer.content.decode()  # the page shown again is text
    assert Person.objects.get(pk=person.pk).properties == {"plan": "pro"}
    assert not Person.objects.filter(distinct_id="new").exists()


def test_a_deeply_nested_shown_value_is_no_500(admin_client, tenant):
    """A change form sends back the value it showed (`initial-properties`)."""
    person = PersonFactory(tenant_id=tenant.pk, properties={"plan": "pro"})
    form = _form(person, properties='{"plan": "max"}')

    response = admin_client.post(
        f"{PEOPLE}{person.pk}/change/", {**form, "initial-properties": "[" * 5000}
    )

    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).properties == {"plan": "max"}


def test_the_list_of_people_never_reads_every_person(
    admin_client, tenant, other_tenant, monkeypatch
):
    """Django's tenant filter read every person for their distinct tenant ids, the count
    read every person twice and the order by id sorted them all (the key is (tenant_id,
    id))."""
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    monkeypatch.setattr(ModelAdmin, "list_per_page", 2)
    for index in range(5):
        PersonFactory(tenant_id=tenant.pk, distinct_id=f"u{index}")

    with CaptureQueriesContext(connections["pii"]) as captured:
        page = admin_client.get(PEOPLE)
        admin_client.get(f"{PEOPLE}?_facets=True")  # "Show counts": a count per tenant
    # Read before the next request: its start empties the connection's query log.
    queries = [query["sql"] for query in captured.captured_queries]
    bad = admin_client.get(f"{PEOPLE}?tenant_id=abc")

    assert page.status_code == 200
    assert "more than 3" in page.content.decode()
    choices = page.context["cl"].filter_specs[0].lookup_choices
    assert {tenant.pk, other_tenant.pk} <= {pk for pk, _ in choices}
    assert queries
    for sql in queries:
        assert "DISTINCT" not in sql, sql
        if "COUNT(" in sql:
            assert "LIMIT 4" in sql, sql
        else:
            assert 'ORDER BY "people_person"."tenant_id" DESC, "people_person"."id" DESC' in sql
    assert bad.status_code == 302  # ?e=1, as any bad filter


@pytest.mark.parametrize(("cap", "offered"), [(3, None), (10, "Select all 5 persons")])
def test_a_capped_list_offers_no_selection_of_a_count_it_does_not_know(
    admin_client, tenant, monkeypatch, cap, offered
):
    """Past the cap the list knows only "more than CAP": Django's "Select all 4 persons"
    and "All 4 selected" (the cap + 1 rows counted) named a number, then acted on every
    row the filters leave, however many."""
    monkeypatch.setattr(CappedCountPaginator, "CAP", cap)
    monkeypatch.setattr(ModelAdmin, "list_per_page", 2)
    for index in range(5):
        PersonFactory(tenant_id=tenant.pk, distinct_id=f"u{index}")

    html = admin_client.get(PEOPLE).content.decode()

    assert 'class="action-counter"' in html  # the page's own selection still counts
    found = re.search(r"Select all \d+ persons", html)
    assert (found and found.group(0)) == offered
    assert ("All 5 selected" in html) == (offered is not None)
    assert "All 4 selected" not in html
