"""Every change to what the per-process credential cache holds makes it stale at once:
a saved or deleted user, token or API key bumps its tenant's `cache_version` in the
same transaction (signals, so the admin, djoser, the API and the shell are all seen)."""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.models import ApiKey, AuthToken, Tenant, User


@receiver(pre_save, sender=User)
def user_saving(sender, instance: User, **kwargs) -> None:
    """Remember the tenant the stored row has: a user moved to another tenant makes both
    tenants' cached credentials stale. (A query per user save; logins save, rarely.)"""
    stored = User.objects.filter(pk=instance.pk).values_list("tenant_id", flat=True)
    instance._stored_tenant_id = stored.first() if instance.pk is not None else None


@receiver([post_save, post_delete], sender=User)
def user_changed(sender, instance: User, **kwargs) -> None:
    Tenant.caches_changed(instance.tenant_id, getattr(instance, "_stored_tenant_id", None))


@receiver(post_save, sender=User)
def password_changed(sender, instance: User, created: bool, **kwargs) -> None:
    """A new password logs the user out everywhere, the login that set it included: a
    password is changed because another may know the old one, and their tokens must
    go with it (sessions go by Django's session hash). Django sets `_password` until
    the save that follows set_password ends, and clears it for the hash upgrade a login
    may save, which is no change."""
    if not created and instance._password is not None:
        for token in instance.auth_tokens.all():
            token.delete()  # one by one: each delete makes cached credentials stale


@receiver([post_save, post_delete], sender=AuthToken)
def token_changed(sender, instance: AuthToken, **kwargs) -> None:
    tenant_id = User.objects.filter(pk=instance.user_id).values_list("tenant_id", flat=True)
    Tenant.caches_changed(*tenant_id)


@receiver([post_save, post_delete], sender=ApiKey)
def api_key_changed(sender, instance: ApiKey, **kwargs) -> None:
    Tenant.caches_changed(instance.tenant_id)
