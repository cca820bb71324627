import datetime as dt

import factory

from accounts.tests.factories import TenantFactory
from events.models import Event, EventLog
from events.rollups import deltas_of_rows, hourly_counts_apply


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"event{n}")
    description = ""


class EventLogFactory(factory.django.DjangoModelFactory):
    """A stored log; `timestamp` defaults to a fixed instant so tests stay reproducible."""

    class Meta:
        model = EventLog

    event = factory.SubFactory(EventFactory)
    tenant = factory.SelfAttribute("event.tenant")
    timestamp = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)
    received_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
    count = 1
    data = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Stored logs always come with their rollup share, as through ingestion.
        log = super()._create(model_class, *args, **kwargs)
        hourly_counts_apply(deltas_of_rows([log]))
        return log
