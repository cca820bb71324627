"""Small guards of the people routes: signed phones, repeated parameters, no caching of
personal data, the admin's tenant check and the separate-database system check."""

import pytest
from django.conf import settings

from people.admin import PersonAdminForm
from people.checks import pii_database_apart
from people.models import Person
from people.tests.factories import PersonFactory

pytestmark = pytest.mark.pii

PEOPLE = "/api/people/"


@pytest.mark.parametrize("phone", [-12345678, "-12345678", " -1234 5678"])
def test_a_phone_with_a_sign_is_400(api_client, phone):
    response = api_client.post(PEOPLE, {"phone": phone}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["phone"]
    assert not Person.objects.exists()


def test_a_repeated_parameter_is_400_and_deletes_nothing(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1")

    response = api_client.delete(f"{PEOPLE}f1?erase_events=true&erase_events=false")

    assert response.status_code == 400
    assert response.json() == {"erase_events": ["Given more than once."]}
    assert Person.objects.filter(distinct_id="f1").exists()


def test_an_unknown_parameter_of_delete_is_400(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1")

    response = api_client.delete(f"{PEOPLE}f1?erase_event=true")

    assert response.status_code == 400
    assert list(response.json()) == ["erase_event"]
    assert Person.objects.filter(distinct_id="f1").exists()


def test_answers_with_personal_data_are_never_stored(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1", email="f1@shop.example")

    for path in (f"{PEOPLE}f1", f"{PEOPLE}by-email/f1@shop.example", f"{PEOPLE}f1/export"):
        response = api_client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-store", path
    assert api_client.post(PEOPLE, {}, format="json")["Cache-Control"] == "no-store"


def test_the_admin_refuses_a_person_of_no_tenant(tenant):
    data = {"distinct_id": "a1", "email": "a1@shop.example", "properties": "{}"}

    missing = PersonAdminForm(data={**data, "tenant_id": tenant.pk + 1000})
    present = PersonAdminForm(data={**data, "tenant_id": tenant.pk})

    assert not missing.is_valid()
    assert list(missing.errors) == ["tenant_id"]
    assert present.is_valid(), present.errors


def test_the_admin_refuses_an_email_taken_ignoring_case(tenant):
    PersonFactory(tenant_id=tenant.pk, email="a@BÜCHER.example")
    data = {"tenant_id": tenant.pk, "distinct_id": "a2", "properties": "{}"}

    form = PersonAdminForm(data={**data, "email": "a@bücher.example"})

    assert not form.is_valid()
    assert list(form.errors) == ["email"]


def test_a_pii_database_equal_to_the_default_one_is_an_error(monkeypatch):
    assert pii_database_apart(None) == []

    databases = {**settings.DATABASES, "pii": settings.DATABASES["default"]}
    monkeypatch.setattr(settings, "DATABASES", databases)

    assert [error.id for error in pii_database_apart(None)] == ["people.E001"]


def test_the_admin_keeps_a_persons_tenant(admin_client, tenant, other_tenant):
    person = PersonFactory(tenant_id=tenant.pk, distinct_id="p1", email="p1@shop.example")
    PersonFactory(tenant_id=tenant.pk, distinct_id="p2", email="p2@shop.example")
    url = f"/admin/people/person/{person.pk}/change/"
    form = {"distinct_id": "p1", "email": "p1@shop.example", "properties": "{}"}

    moved = admin_client.post(url, {**form, "tenant_id": other_tenant.pk})
    taken = admin_client.post(url, {**form, "email": "P2@shop.example"})

    assert moved.status_code == 302  # saved, the tenant left as it was
    person.refresh_from_db()
    assert person.tenant_id == tenant.pk
    assert 'name="tenant_id"' not in admin_client.get(url).content.decode()
    # The email check still knows the tenant without the field.
    assert taken.status_code == 200
    assert taken.context["adminform"].form.errors["email"]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        (f"{PEOPLE}?emial=f1@shop.example", {"emial": ["Unknown parameter."]}),
        (f"{PEOPLE}?search=f1&search=zz", {"search": ["Given more than once."]}),
        (f"{PEOPLE}?email=a@x.example&email=f1@shop.example", {"email": ["Given more than once."]}),
        (f"{PEOPLE}f1?search=f1", {"search": ["Unknown parameter."]}),
        (f"{PEOPLE}by-email/f1@shop.example?x=1", {"x": ["Unknown parameter."]}),
        (f"{PEOPLE}f1/export?distinct_id=f2", {"distinct_id": ["Unknown parameter."]}),
    ],
)
def test_every_read_refuses_an_unknown_or_repeated_parameter(api_client, tenant, path, problem):
    # README: a query parameter given twice or unknown is a 400 naming it, on every
    # /api/people/ route: `?emial=` listed every person, `?search=a&search=b` read the last.
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1", email="f1@shop.example")

    response = api_client.get(path)

    assert response.status_code == 400
    assert response.json() == problem
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["TRACE", "PUT"])
def test_a_method_a_route_does_not_take_is_405_whatever_its_query(api_client, tenant, method):
    """The query's check came first: TRACE /api/people/?search= answered 400, not 405."""
    response = api_client.generic(method, f"{PEOPLE}?search=&limit=0&unknown=1")

    assert response.status_code == 405


def test_the_lists_own_parameters_and_format_still_work(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1", email="f1@shop.example")
    PersonFactory(tenant_id=tenant.pk, distinct_id="f2", email="f2@shop.example")

    listed = api_client.get(f"{PEOPLE}?email=F1@shop.example&ordering=-id&limit=5&offset=0")
    searched = api_client.get(f"{PEOPLE}?search=f2&format=json")

    assert [p["distinct_id"] for p in listed.json()] == ["f1"]
    assert [p["distinct_id"] for p in searched.json()] == ["f2"]
    assert api_client.get(f"{PEOPLE}f1/export?format=json").status_code == 200


def test_an_unknown_parameter_of_a_write_is_400_and_writes_nothing(api_client, tenant):
    PersonFactory(tenant_id=tenant.pk, distinct_id="f1", email="f1@shop.example")

    patched = api_client.patch(f"{PEOPLE}f1?notify=1", {"email": "new@shop.example"}, format="json")
    events = api_client.delete(f"{PEOPLE}f1/events?erase_events=true")

    assert patched.status_code == 400
    assert patched.json() == {"notify": ["Unknown parameter."]}
    assert Person.objects.get(distinct_id="f1").email == "f1@shop.example"
    assert events.status_code == 400
    assert events.json() == {"erase_events": ["Unknown parameter."]}
