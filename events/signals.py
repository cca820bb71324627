"""A renamed or deleted event makes the per-process event-id caches (events.event_ids)
stale at once: its tenant's `cache_version` is bumped in the same transaction."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Tenant
from events.models import Event


@receiver(post_save, sender=Event)
def event_saved(sender, instance: Event, created: bool, **kwargs) -> None:
    if not created:  # a new name cannot be cached yet; an old one may be renamed
        Tenant.caches_changed(instance.tenant_id)


@receiver(post_delete, sender=Event)
def event_deleted(sender, instance: Event, **kwargs) -> None:
    Tenant.caches_changed(instance.tenant_id)
