"""The demo page's ingest key, one per tenant, named "demo page".

A secret is shown only when its key is created, so the page keeps it in the user's
session and reuses it while the key is usable and allows the page's origin. Otherwise
it revokes the tenant's earlier demo keys and makes a fresh one: at most one demo key
is live per tenant. (Sessions are server-side; an ingest key is safe in a web page
anyway — the demo puts it there.)
"""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ApiKey, Tenant, User
from accounts.origins import normalise_origin_pattern
from accounts.services import api_key_create, api_key_revoke
from accounts.tenancy import scope_to_tenant

DEMO_KEY_NAME = "demo page"
SESSION_DEMO_KEY = "web.demo_key"


def secret_for(request: HttpRequest) -> str:
    """The secret of a usable demo key of the user's tenant allowing this page's origin."""
    tenant = request.user.tenant
    origin = page_origin(request)
    stored = request.session.get(SESSION_DEMO_KEY)
    if stored and _still_usable(tenant=tenant, key_id=stored["id"], origin=origin):
        return stored["secret"]
    key, secret = _replace(tenant=tenant, user=request.user, origin=origin)
    request.session[SESSION_DEMO_KEY] = {"id": key.pk, "secret": secret}
    return secret


def page_origin(request: HttpRequest) -> str:
    """This page's origin as allowed_origins stores it (lower case, no default port)."""
    return normalise_origin_pattern(f"{request.scheme}://{request.get_host()}")


def _still_usable(*, tenant: Tenant, key_id: int, origin: str) -> bool:
    keys = scope_to_tenant(ApiKey.objects.usable(now=timezone.now()), tenant)
    key = keys.filter(pk=key_id, role=ApiKey.Role.INGEST).first()
    return key is not None and origin in key.allowed_origins


@transaction.atomic
def _replace(*, tenant: Tenant, user: User, origin: str) -> tuple[ApiKey, str]:
    earlier = scope_to_tenant(
        ApiKey.objects.filter(name=DEMO_KEY_NAME, role=ApiKey.Role.INGEST, revoked_at__isnull=True),
        tenant,
    )
    for key in earlier:
        api_key_revoke(key=key)
    return api_key_create(
        tenant=tenant,
        name=DEMO_KEY_NAME,
        role=ApiKey.Role.INGEST,
        created_by=user,
        allowed_origins=[origin],
    )
