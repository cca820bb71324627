"""The dashboard and the tracker demo: pages for people logged in with a session.

Everything shown or changed belongs to `request.user.tenant`, staff or not; the tenant
never comes from the URL or a form. A blocked tenant gets a page saying so, no data.
"""

import json
from collections.abc import Callable
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.authentication import TENANT_BLOCKED
from accounts.models import ApiKey, User
from accounts.services import (
    StaffDeactivated,
    TeamError,
    UsernameTaken,
    api_key_create,
    api_key_revoke,
    member_add,
    member_remove,
    member_update,
)
from accounts.tenancy import scope_to_tenant
from core.deadline import with_statement_deadline
from core.exceptions import only_methods
from web import demo_keys
from web.dashboard import key_rows, stats_context
from web.forms import ApiKeyCreateForm, DemoOverrideForm, MemberForm, SignUpForm, StatsRangeForm

LOGIN = "web-login"
# The secret of a key just created, kept until the next page shows it (once).
SESSION_NEW_KEY = "web.new_key"
# The demo's buttons: (id, label, event name, properties). Ids are stable for e2e tests.
DEMO_BUTTONS = (
    ("track-add-to-cart", "Add to cart", "add_to_cart", {"sku": "demo-42", "price": 19.99}),
    ("track-checkout", "Checkout", "checkout", {"total": 19.99, "currency": "EUR"}),
    ("track-sign-up", "Sign up", "signup", {"plan": "pro"}),
)


def page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render one of our pages with what the shared layout needs."""
    context = {"demo_available": demo_available(request), **context}
    return render(request, template, context, status=status)


def not_allowed(request: HttpRequest, methods: list[str], message: str = "") -> HttpResponse:
    """A 405 page naming the methods the page takes (Django's 405 has no body)."""
    message = message or f"This address takes {' or '.join(methods)} only."
    response = refused(request, title="Method not allowed", message=message, status=405)
    response["Allow"] = ", ".join(methods)
    return response


def allow(*methods: str) -> Callable:
    """Django's require_http_methods for the pages: another method is a 405 page."""
    return only_methods(methods, not_allowed)


def demo_available(request: HttpRequest) -> bool:
    """The demo ships a working ingest key in the page: development, or staff only."""
    return settings.DEBUG or request.user.is_staff


@allow("GET")
def home(request: HttpRequest) -> HttpResponse:
    """The front door: what this is, and where to go next."""
    return page(request, "web/home.html", {"nav": "home"})


@never_cache
@allow("GET", "POST")
def signup(request: HttpRequest) -> HttpResponse:
    """A new account and its own tenant, then the dashboard, logged in."""
    if request.user.is_authenticated:
        return redirect("web-dashboard")
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and (user := form.save()) is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("web-dashboard")
    status = 400 if form.errors else 200  # as every other form of the dashboard
    return page(request, "web/signup.html", {"form": form, "nav": "signup"}, status=status)


NOT_FOR_ROLE = "Not allowed for your role"


def refused(request: HttpRequest, *, title: str, message: str, status: int) -> HttpResponse:
    """A page refusing a form, titled for why (web/blocked.html is for blocked tenants)."""
    return page(request, "web/refused.html", {"title": title, "message": message}, status=status)


class LoginPage(LoginView):
    """Django's session login; a refused form answers 400, as every form of the dashboard."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class LogoutPage(LogoutView):
    """Django's logout, a POST (the header's button); any other method is a page saying
    so (405), where Django answers an empty body."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        message = "Log out with the Log out button in the page's header: an address alone cannot."
        return not_allowed(request, self._allowed_methods(), message)


def not_owner(request: HttpRequest) -> HttpResponse:
    message = "Only the tenant's owners manage its team and its API keys."
    return refused(request, title=NOT_FOR_ROLE, message=message, status=403)


def owner_refusal(request: HttpRequest) -> HttpResponse | None:
    """The page refusing a change to the team or the keys, or None when it may be made
    (a blocked tenant was refused by `tenant_page` already)."""
    if request.user.role != User.Role.OWNER:
        return not_owner(request)
    return None


def tenant_row(request: HttpRequest, model: type[models.Model], pk: int) -> models.Model:
    """The row `pk` of `model` in the user's tenant; Http404 for another tenant's, like a
    missing one."""
    return get_object_or_404(scope_to_tenant(model.objects.all(), request.user.tenant), pk=pk)


def blocked(request: HttpRequest) -> HttpResponse:
    return page(request, "web/blocked.html", {"message": TENANT_BLOCKED}, status=403)


def tenant_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every page and form of the logged-in user's tenant goes through this: the login
    page for anonymous users, the blocked page (403, no data) for a blocked tenant's, and
    never cached (a browser shared by two users must not show one the other's data).
    web.tests.test_tenant_pages checks that every /dashboard/ route uses it."""

    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.tenant.is_active:
            return blocked(request)
        return view(request, *args, **kwargs)

    logged_in = login_required(checked, login_url=LOGIN)

    @wraps(view)
    def entry(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST" and not request.user.is_authenticated:
            # A form sent after its session ended (logged out in another tab): back to the
            # dashboard, its page, once logged in; its POST-only address would be a 405.
            return redirect_to_login(reverse("web-dashboard"), login_url=reverse(LOGIN))
        return logged_in(request, *args, **kwargs)

    entry.tenant_page = True
    return never_cache(entry)


@tenant_page
@allow("GET")
@with_statement_deadline
def dashboard(request: HttpRequest) -> HttpResponse:
    """Stats of the chosen range and zone (default: the last 30 days, the tenant's
    zone), ingestion quality, the team and the tenant's API keys."""
    return dashboard_page(request, key_form=ApiKeyCreateForm())


def dashboard_page(
    request: HttpRequest, *, key_form: ApiKeyCreateForm, member_form: MemberForm | None = None
) -> HttpResponse:
    """The dashboard; 400 when the range or a form holds an error, shown in place."""
    tenant = request.user.tenant
    member_form = member_form or MemberForm()
    range_form = StatsRangeForm.for_tenant(request.GET, tenant)
    context = {
        "nav": "dashboard",
        "tenant": tenant,
        "range_form": range_form,
        "key_form": key_form,
        "keys": key_rows(tenant),
        "is_owner": request.user.role == User.Role.OWNER,
        "members": scope_to_tenant(User.objects.all(), tenant).order_by("id"),
        "member_form": member_form,
        "new_key": request.session.pop(SESSION_NEW_KEY, None),
    }
    if range_form.is_valid():
        data = range_form.cleaned_data
        context |= stats_context(
            tenant=tenant,
            start=data["start_date"],
            end=data["end_date"],
            tz=ZoneInfo(data["tz"]),
        )
    status = 400 if range_form.errors or key_form.errors or member_form.errors else 200
    return page(request, "web/dashboard.html", context, status=status)


@tenant_page
@allow("POST")
def key_create(request: HttpRequest) -> HttpResponse:
    """Create a key, then redirect (so a reload cannot create a second one); the secret
    travels in the session to the next page, which shows it once."""
    if (refusal := owner_refusal(request)) is not None:
        return refusal
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return dashboard_page(request, key_form=form)
    key, secret = api_key_create(
        tenant=request.user.tenant, created_by=request.user, **form.cleaned_data
    )
    request.session[SESSION_NEW_KEY] = {"name": key.name, "role": key.role, "secret": secret}
    return redirect(f"{reverse('web-dashboard')}#new-key")


@tenant_page
@allow("POST")
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the tenant's keys; another tenant's key is a 404, like a missing one."""
    if (refusal := owner_refusal(request)) is not None:
        return refusal
    api_key_revoke(key=tenant_row(request, ApiKey, pk))
    return redirect(f"{reverse('web-dashboard')}#api-keys")


@tenant_page
@allow("POST")
def member_create(request: HttpRequest) -> HttpResponse:
    """Add a member to the owner's tenant (the same rules as POST /api/members/)."""
    if (refusal := owner_refusal(request)) is not None:
        return refusal
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            member_add(tenant=request.user.tenant, **form.cleaned_data)
        except ValidationError as exc:  # the password validators' verdict
            form.add_error("password", exc)
        except UsernameTaken as exc:  # since validation, by a concurrent request
            form.add_error("username", str(exc))
        else:
            return redirect(f"{reverse('web-dashboard')}#team")
    return dashboard_page(request, key_form=ApiKeyCreateForm(), member_form=form)


@tenant_page
@allow("POST")
def member_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a member of the tenant (another tenant's user is a 404)."""
    if (refusal := owner_refusal(request)) is not None:
        return refusal
    try:
        member_remove(member=tenant_row(request, User, pk))
    except TeamError as exc:
        title = "A tenant keeps at least one owner"
        return refused(request, title=title, message=str(exc), status=400)
    return redirect(f"{reverse('web-dashboard')}#team")


@tenant_page
@allow("POST")
def member_restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Bring a removed member of the tenant back, with their role and password (another
    tenant's user is a 404); they log in again."""
    if (refusal := owner_refusal(request)) is not None:
        return refusal
    try:
        member_update(member=tenant_row(request, User, pk), is_active=True)
    except StaffDeactivated as exc:
        return refused(request, title="Deactivated by the staff", message=str(exc), status=403)
    return redirect(f"{reverse('web-dashboard')}#team")


@never_cache
@allow("GET")
def demo(request: HttpRequest) -> HttpResponse:
    """A page that loads /t.js and tracks button clicks, with an ingest key of the
    user's tenant (made for this page), or the `?key=&host=` given."""
    if not demo_available(request):
        raise Http404("The demo page is off.")
    override = DemoOverrideForm(request.GET)
    if not override.is_valid():
        context = {"nav": "demo", "override": override}
        return page(request, "web/demo.html", context, status=400)
    key, host = override.cleaned_data["key"], override.cleaned_data["host"]
    if not key:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse(LOGIN))
        if not request.user.tenant.is_active:
            return blocked(request)
        if request.user.role == User.Role.VIEWER:  # the demo makes a key and sends events
            message = "Viewers read the tenant's data; the demo sends events."
            return refused(request, title=NOT_FOR_ROLE, message=message, status=403)
        key = demo_keys.secret_for(request)
    context = {
        "nav": "demo",
        "override": override,
        "own_key": not override.cleaned_data["key"],
        "config": {"key": key, "host": host or None},
        "buttons": [
            {"id": id_, "label": label, "event": event, "props": json.dumps(props)}
            for id_, label, event, props in DEMO_BUTTONS
        ],
    }
    response = page(request, "web/demo.html", context)
    if host:  # the tracker sends to that server: let the page's policy allow it
        response._csp_update = {"connect-src": [host]}
    return response
