import factory

from people.models import Person


class PersonFactory(factory.django.DjangoModelFactory):
    """A person of `tenant` (pass `tenant_id=tenant.pk`: there is no foreign key)."""

    class Meta:
        model = Person

    distinct_id = factory.Sequence(lambda n: f"person-{n}")
    email = factory.Sequence(lambda n: f"person{n}@shop.example")
    username = factory.Sequence(lambda n: f"buyer{n}")
    first_name = "Ada"
    last_name = "Lovelace"
