"""What the property tests over stored events share."""

from hypothesis import HealthCheck, settings

from accounts.models import Tenant
from events import event_ids


def fresh_tenant() -> Tenant:
    """A new tenant for one example: the examples before were rolled back and reused
    the same ids, which key the per-process cache of event ids."""
    event_ids.clear_cache()
    return Tenant.objects.create(name="t", slug=Tenant.unique_slug("t"))


def examples(count: int):
    """Hypothesis' settings of a property test over the database: `count` examples, the
    same ones each run, no deadline (a database round trip varies)."""
    return settings(
        max_examples=count, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
