"""The single-event fast path (events.fastpath) answers exactly what the view answers,
and hands every other request on to it, which then counts it once.

Each case is sent twice: through the whole middleware stack (where the fast path may
answer) and with the fast path removed (the view answers); status, headers and body
(its bytes, so its layout too) must agree, apart from what differs between two stored
events (id, uuid, times). The listed cases name what each check is for; a property test
then draws bodies and headers, mostly what clients send and sometimes anything else."""

import io
import json
import re
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import ApiKey, AuthToken, Tenant
from accounts.services import api_key_create
from core import ratelimit
from events import bulk, fastpath, views
from events.models import BlockRule, EventLog, IngestionCountTotal
from events.tests.property import examples

pytestmark = pytest.mark.django_db
PATH = "/api/eventlogs/"
FAST_PATH = "events.fastpath.SingleEventFastPath"
SHOP = "https://shop.example"
# Differ between two stored events; compared by presence only.
VOLATILE_FIELDS = {"id", "uuid", "received_at", "timestamp"}
VOLATILE_HEADERS = {"Content-Length", "RateLimit-Remaining"}


@dataclass
class Sender:
    """A tenant with every kind of credential, sending prepared requests."""

    tenant: object
    token: str
    keys: dict[str, str] = field(default_factory=dict)

    def send(self, case: "Case", *, fast: bool, **client_options):
        body = case.body if isinstance(case.body, bytes) else json.dumps(case.body)
        if isinstance(case.body, dict) and "uuid" in case.body and not case.fixed_uuid:
            body = json.dumps({**case.body, "uuid": str(uuid.uuid4())})
        headers = {
            name: value.format(**self.__dict__, **self.keys) for name, value in case.headers.items()
        }
        path = case.path.format(**self.keys)
        client = APIClient(**client_options)
        if fast:
            return client.generic("POST", path, body, content_type=case.content_type, **headers)
        without = [name for name in django_settings.MIDDLEWARE if name != FAST_PATH]
        with override_settings(MIDDLEWARE=without):
            return client.generic("POST", path, body, content_type=case.content_type, **headers)


@dataclass
class Case:
    name: str
    answered: bool  # by the fast path itself
    status: int
    body: object = field(default_factory=lambda: {"event_name": "signup", "uuid": "x"})
    headers: dict[str, str] = field(default_factory=lambda: {"HTTP_AUTHORIZATION": "Token {token}"})
    content_type: str = "application/json"
    path: str = PATH
    fixed_uuid: bool = False


EVENT = {"event_name": "signup", "uuid": "x"}
RICH = {
    "event_name": "purchase",
    "distinct_id": "user-7",
    "data": {"amount": 12.5, "items": ["a", "b"], "nested": {"ok": True}},
    "timestamp": "2026-01-02T03:04:05Z",
    "count": 3,
    "uuid": "x",
}
KEY = {"HTTP_X_API_KEY": "{ingest}"}
TOKEN = {"HTTP_AUTHORIZATION": "Token {token}"}
BEACON = {"content_type": "text/plain;charset=UTF-8", "path": PATH + "?key={ingest}"}
REPEATED = {**EVENT, "uuid": "6f1c1d0e-9a4c-4f7e-8a39-0c6f6a1d2b3c"}
REPEATED_HUGE = {**REPEATED, "data": {"v": 1e21}}
CASES = [
    Case("token", True, 201),
    Case("token, every field", True, 201, body=RICH),
    Case("token, no uuid", True, 201, body={"event_name": "signup"}),
    Case("ingest key in X-Api-Key", True, 201, headers=KEY),
    Case("ingest key as Api-Key", True, 201, headers={"HTTP_AUTHORIZATION": "Api-Key {ingest}"}),
    Case("admin key", True, 201, headers={"HTTP_X_API_KEY": "{admin}"}),
    Case("accept JSON", True, 201, headers={**KEY, "HTTP_ACCEPT": "application/json"}),
    Case("JSON, charset", True, 201, headers=KEY, content_type="application/json; charset=utf-8"),
    Case("a repeated uuid", True, 200, body=REPEATED, fixed_uuid=True),
    # PostgreSQL's jsonb gives 1e21 back as an integer past 64 bits, which orjson refuses.
    Case(
        "a repeated uuid, 1e21", True, 200, body={**REPEATED, "data": {"v": 1e21}}, fixed_uuid=True
    ),
    Case("an unknown event, strict tenant", True, 400, body={"event_name": "new", "uuid": "x"}),
    # Handed on to the view:
    Case("a browser's beacon (enriched)", False, 201, headers={"HTTP_ORIGIN": SHOP}, **BEACON),
    Case("an unknown field", False, 400, body={**EVENT, "colour": "red"}),
    Case("a bad timestamp", False, 400, body={**EVENT, "timestamp": "yesterday"}),
    Case("malformed JSON", False, 400, body=b'{"event_name": '),
    Case("a JSON array", False, 400, body=b"[1, 2]"),
    Case("a read key", False, 403, headers={"HTTP_X_API_KEY": "{read}"}),
    Case("a revoked key", False, 401, headers={"HTTP_X_API_KEY": "{revoked}"}),
    Case("a wrong token", False, 401, headers={"HTTP_AUTHORIZATION": "Token nope"}),
    Case("a bearer token", False, 401, headers={"HTTP_AUTHORIZATION": "Bearer {token}"}),
    Case("no credential", False, 401, headers={}),
    Case("a token and an API key", False, 400, headers={**TOKEN, **KEY}),
    Case("?key= twice", False, 400, headers={}, path=PATH + "?key={ingest}&key={admin}"),
    Case("a foreign origin", False, 403, headers={"HTTP_ORIGIN": "https://evil.example"}, **BEACON),
    Case("a token from a page", False, 403, headers={**TOKEN, "HTTP_ORIGIN": SHOP}),
    Case("a blocked user agent", False, 403, headers={**TOKEN, "HTTP_USER_AGENT": "BadBot/1"}),
    # Django's own check of the Host header (CommonMiddleware, after the fast path).
    Case("a Host not allowed", False, 400, headers={**TOKEN, "HTTP_HOST": "evil.example"}),
    Case("the browsable API", False, 201, headers={**TOKEN, "HTTP_ACCEPT": "text/html"}),
    Case("?format=json", False, 201, path=PATH + "?format=json"),
    Case("an unsupported body type", False, 415, content_type="application/xml"),
    Case(
        "a chunked body (no Content-Length)",
        False,
        411,
        headers={**TOKEN, "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""},
    ),
]


@pytest.fixture
def sender(tenant, user):
    keys = {}
    for role in ("ingest", "admin", "read"):
        origins = [SHOP] if role == "ingest" else []
        _, keys[role] = api_key_create(tenant=tenant, name=role, role=role, allowed_origins=origins)
    revoked, keys["revoked"] = api_key_create(tenant=tenant, name="old", role="ingest")
    revoked.revoked_at = timezone.now()
    revoked.save()
    BlockRule.objects.create(tenant=tenant, kind="user_agent", value="badbot")
    tenant.blocklist_version += 1
    tenant.auto_create_events = False
    tenant.save()
    for name in ("signup", "purchase"):
        tenant.events.create(name=name)
    return Sender(tenant=tenant, token=AuthToken.objects.create_token(user)[1], keys=keys)


@pytest.fixture
def answered(monkeypatch) -> list[bool]:
    """Per request through the fast path: whether it answered (or handed the request on)."""
    seen: list[bool] = []
    original = fastpath._answer

    def spy(request):
        try:
            response = original(request)
        except Exception:  # the fast path answers it (a 503 or a 500)
            seen.append(True)
            raise
        seen.append(response is not None)
        return response

    monkeypatch.setattr(fastpath, "_answer", spy)
    return seen


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_fast_path_answers_what_the_view_answers(sender, answered, case):
    if case.fixed_uuid:
        assert sender.send(case, fast=False).status_code in (200, 201)  # store it once

    fast = sender.send(case, fast=True)
    view = sender.send(case, fast=False)

    assert answered == [case.answered]
    assert (fast.status_code, view.status_code) == (case.status, case.status), fast.content
    assert _headers(fast) == _headers(view)
    assert _body(fast) == _body(view)


def test_a_body_shorter_than_its_content_length_is_handed_on_and_refused(sender, answered):
    """What arrived parses, but the client declared more: the view's 400, nothing stored."""
    body = json.dumps({"event_name": "signup"}).encode()

    def send():
        return APIClient().generic(
            "POST",
            PATH,
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {sender.token}",
            CONTENT_LENGTH="1000",
            **{"wsgi.input": io.BytesIO(body)},
        )

    fast = send()
    without = [name for name in django_settings.MIDDLEWARE if name != FAST_PATH]
    with override_settings(MIDDLEWARE=without):
        view = send()

    assert answered == [False]
    assert (fast.status_code, view.status_code) == (400, 400), fast.content
    assert _headers(fast) == _headers(view)
    assert _body(fast) == _body(view)
    assert "shorter than its Content-Length" in fast.json()["detail"]
    assert not EventLog.objects.exists()


def test_every_stored_field_is_what_the_answer_says(sender, answered):
    response = sender.send(Case("rich", True, 201, body=RICH), fast=True)

    assert answered == [True]
    body = response.json()
    log = EventLog.objects.select_related("event").get(pk=body["id"])
    assert (log.event.name, log.distinct_id, log.count, log.data) == (
        "purchase",
        "user-7",
        3,
        RICH["data"],
    )
    assert str(log.uuid) == body["uuid"]
    assert log.timestamp.isoformat().replace("+00:00", "Z") == body["timestamp"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "view"])
def test_the_201_is_what_reading_the_log_back_answers(sender, answered, fast):
    """The 201 is built from the row just written (events.serializers.row_representation),
    not read back: it must be what the serializer says of the stored log, key for key."""
    created = sender.send(Case("rich", True, 201, body=RICH), fast=fast)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {sender.token}")
    read_back = client.get(f"{PATH}{created.json()['id']}/")
    assert (created.status_code, read_back.status_code) == (201, 200)
    assert list(created.json().items()) == list(read_back.json().items())
    assert answered == ([True] if fast else [])


def test_a_handed_on_refusal_is_counted_once(sender, answered, api_client):
    bad = Case("unknown field", False, 400, body={**EVENT, "colour": "red"})
    assert sender.send(bad, fast=True).status_code == 400

    (counts,) = IngestionCountTotal.objects.filter(outcome="rejected")
    assert (counts.reason, counts.requests, counts.events) == ("invalid_field", 1, 1)
    assert answered == [False]


def test_a_rate_limited_request_is_counted_once_against_the_rate(sender, answered, settings):
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, "INGEST_RATE": "2/min"}
    case = Case("token", True, 201)

    statuses = [sender.send(case, fast=True).status_code for _ in range(3)]

    assert statuses == [201, 201, 429]
    assert answered == [True, True, False]
    # Three requests, three hits: the view's throttle reused the fast path's window.
    ((_, count),) = ratelimit.LOCAL._counts.values()
    assert count == 3
    (refused,) = IngestionCountTotal.objects.filter(outcome="rejected")
    assert (refused.reason, refused.requests) == ("rate_limited", 1)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("2/hour", "off", [201, 201, 201, 201]),  # lifted: the next request passes
        ("2/hour", "5/hour", [201, 201, 201, 201]),  # raised, within the same window
        ("100/hour", "2/hour", [201, 201, 429, 429]),  # lowered: the next request is over
        ("2/hour", "10/day", [201, 201, 201, 201]),  # another period: its own window
    ],
)
def test_a_changed_rate_holds_from_the_next_request(sender, answered, before, after, expected):
    """The fast path counts a request with its tenant as cached (an ingest key here);
    when the rate changed since, the view judges it by the rate as it is now, once."""
    Tenant.objects.filter(pk=sender.tenant.pk).update(ingest_rate=before)
    case = Case("key", True, 201, headers=KEY)
    statuses = [sender.send(case, fast=True).status_code for _ in range(2)]
    # No signal, no cache_version bump: the cached credential keeps the old rate.
    Tenant.objects.filter(pk=sender.tenant.pk).update(ingest_rate=after)

    statuses += [sender.send(case, fast=True).status_code for _ in range(2)]

    assert statuses == expected
    refused = IngestionCountTotal.objects.filter(outcome="rejected", reason="rate_limited")
    assert sum(refused.values_list("requests", flat=True)) == expected.count(429)


def test_its_answers_are_counted_in_the_metrics_as_the_views_are(sender, answered):
    from prometheus_client import REGISTRY

    def served() -> Counter:
        return Counter(
            {
                sample.labels["route"]: sample.value
                for metric in REGISTRY.collect()
                for sample in metric.samples
                if sample.name == "eventtracker_http_requests_total"
                and sample.labels["method"] == "POST"
                and sample.labels["status"] == "201"
            }
        )

    before = served()
    sender.send(Case("token", True, 201), fast=True)
    after_fast = served()
    sender.send(Case("token", True, 201), fast=False)
    after_view = served()

    assert answered == [True]
    assert after_fast - before == after_view - after_fast == Counter({"api/eventlogs/?$": 1})


def _headers(response) -> dict[str, str]:
    return {name: "…" if name in VOLATILE_HEADERS else value for name, value in response.items()}


def _body(response):
    """The body, apart from what differs between two stored events; JSON also as its
    bytes with those values masked, so that even its layout must agree."""
    if response["Content-Type"].startswith("text/html"):
        return "a page"  # the browsable API: forms with per-request CSRF tokens
    if not response["Content-Type"].startswith("application/json"):
        return response.content
    body = response.json()
    if isinstance(body, dict) and "received_at" in body:
        body = {name: "…" if name in VOLATILE_FIELDS else value for name, value in body.items()}
    return body, VOLATILE_VALUES.sub(rb'"\1": "?"', response.content)


VOLATILE_VALUES = re.compile(rb'"(%s)": ?("[^"]*"|\d+)' % "|".join(VOLATILE_FIELDS).encode())


def test_a_body_over_the_limit_is_answered_by_the_view(sender, answered, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 40
    case = Case("large", False, 413, body={**EVENT, "data": {"text": "x" * 100}})

    fast, view = sender.send(case, fast=True), sender.send(case, fast=False)

    assert answered == [False]
    assert (fast.status_code, view.status_code) == (413, 413)
    assert _body(fast) == _body(view)


def test_a_logged_in_browser_session_is_answered_by_the_view(sender, answered, user):
    client = APIClient()
    client.force_login(user)  # a session cookie: DRF checks its CSRF token

    response = client.post(PATH, {"event_name": "signup"}, format="json")

    assert answered == [False]
    assert response.status_code == 201  # APIClient skips CSRF checks, as DRF's tests do


def test_a_tenant_blocked_behind_the_cached_credential_is_refused_and_nothing_stored(
    sender, answered
):
    case = Case("token", True, 201)
    assert sender.send(case, fast=True).status_code == 201  # the token is cached now
    # No signal, no cache_version bump: only the write's own check can see it.
    Tenant.objects.filter(pk=sender.tenant.pk).update(is_active=False)

    response = sender.send(case, fast=True)

    assert response.status_code == 403
    assert answered == [True, False]  # the fast path wrote nothing and handed it on
    assert EventLog.objects.filter(tenant=sender.tenant).count() == 1
    outcomes = IngestionCountTotal.objects.filter(tenant=sender.tenant)
    assert sorted(outcomes.values_list("outcome", "reason", "requests", "events")) == [
        ("accepted", "", 1, 1),
        ("rejected", "tenant_inactive", 1, 1),
    ]


def test_a_setting_changed_behind_the_cached_credential_holds_from_the_next_request(
    sender, answered
):
    assert sender.send(Case("token", True, 201), fast=True).status_code == 201
    Tenant.objects.filter(pk=sender.tenant.pk).update(auto_create_events=True)
    new_name = Case("new name", False, 201, body={"event_name": "brand-new", "uuid": "x"})

    response = sender.send(new_name, fast=True)

    # As cached the tenant refuses unknown names; as it is now, it creates them.
    assert response.status_code == 201, response.content
    assert answered == [True, False]
    assert sender.tenant.events.filter(name="brand-new").exists()
    assert not IngestionCountTotal.objects.filter(outcome="rejected").exists()


def test_an_event_name_new_to_this_process_is_created_by_the_view(
    sender, answered, django_capture_on_commit_callbacks
):
    Tenant.objects.filter(pk=sender.tenant.pk).update(auto_create_events=True)
    case = Case("new name", False, 201, body={"event_name": "first-seen", "uuid": "x"})

    statuses = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):  # ids are cached on commit
            statuses.append(sender.send(case, fast=True).status_code)

    assert statuses == [201, 201]
    assert answered == [False, True]  # then the process knows its id
    assert EventLog.objects.filter(event__name="first-seen").count() == 2


def test_the_guard_is_prepared_once_per_version_of_the_tenant_row(sender):
    """events.bulk memoizes the guard's parameters by the row's values, which must
    therefore all be hashable: a field that is not (a JSONField) needs another key."""
    tenant = Tenant.objects.get(pk=sender.tenant.pk)
    values = tuple(getattr(tenant, name) for name in bulk._TENANT_ATTNAMES)

    first = bulk._guard_parameters(values)

    assert bulk._guard_parameters(values) is first
    tenant.retention_days = (tenant.retention_days or 0) + 1
    changed = tuple(getattr(tenant, name) for name in bulk._TENANT_ATTNAMES)
    assert bulk._guard_parameters(changed) != first
    assert len(first) == len(Tenant._meta.concrete_fields)


def test_a_user_agent_django_refuses_is_answered_by_the_view(sender, answered, settings):
    """settings.DISALLOWED_USER_AGENTS, which CommonMiddleware checks after the fast path."""
    settings.DISALLOWED_USER_AGENTS = [re.compile(r"crawler", re.IGNORECASE)]
    case = Case("crawler", False, 403, headers={**TOKEN, "HTTP_USER_AGENT": "Crawler/2"})

    fast, view = sender.send(case, fast=True), sender.send(case, fast=False)

    assert answered == [False]
    assert (fast.status_code, view.status_code) == (403, 403)
    assert not EventLog.objects.filter(tenant=sender.tenant).exists()


def test_an_unexpected_error_is_the_views_500(sender, monkeypatch):
    """Django's 500, with the headers the middleware after the fast path add to the
    view's (X-Frame-Options, Content-Length)."""
    calls = []

    def failing(where: str):
        def ingest(**kwargs):
            calls.append(where)
            raise DatabaseError("an error that is not an outage")

        return ingest

    monkeypatch.setattr(fastpath, "event_logs_ingest", failing("fast path"))
    monkeypatch.setattr(views, "event_logs_ingest", failing("view"))
    case = Case("token", True, 500)

    fast = sender.send(case, fast=True, raise_request_exception=False)
    view = sender.send(case, fast=False, raise_request_exception=False)

    assert calls == ["fast path", "view"]
    assert (fast.status_code, view.status_code) == (500, 500)
    assert _headers(fast) == _headers(view)
    assert "X-Frame-Options" in fast.headers
    assert fast.content == view.content


@contextmanager
def credentials_locked(key_id: int, wait_seconds: float = 0.3) -> Iterator[None]:
    """Another connection holds a write lock on the API key's row for the block (SQLite:
    on the whole database), and this one gives up waiting after `wait_seconds`: its
    errors are those of a database that cannot answer in time."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    saved = dict(options)
    if connection.vendor == "postgresql":
        options["options"] = f"-c statement_timeout={int(wait_seconds * 1000)}"
        db = connection.settings_dict
        holder = psycopg.connect(
            dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
            port=db["PORT"] or None,
        )  # fmt: skip
        holder.execute("SELECT FROM accounts_apikey WHERE id = %s FOR UPDATE", [key_id])
    else:
        options["timeout"] = wait_seconds
        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    connection.close()  # opened again with the short wait
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
        options.clear()
        options.update(saved)
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_answer_is_the_views_503_wherever_it_is_met(sender, answered):
    """An unused key's first request writes when it was used (accounts.authentication),
    before the event: a lock held elsewhere makes that write wait past its limit, and
    the fast path answers the view's 503, not a 500."""
    case = Case("key", True, 503, headers=KEY)
    key_id = ApiKey.objects.get(tenant=sender.tenant, role="ingest", name="ingest").pk

    with credentials_locked(key_id):
        fast = sender.send(case, fast=True)
        view = sender.send(case, fast=False)

    assert answered == [True]
    assert (fast.status_code, view.status_code) == (503, 503), (fast.content, view.content)
    assert fast["Retry-After"] == view["Retry-After"]
    assert _headers(fast) == _headers(view)
    assert _body(fast) == _body(view)
    assert not EventLog.objects.filter(tenant=sender.tenant).exists()
    assert sender.send(case, fast=True).status_code == 201  # once the lock is gone


# Requests a property test builds from these: the fast path must answer whatever it
# answers exactly as the view does, for any body and any of these headers. Each part is
# mostly what a client sends, so that requests the fast path answers are common, and
# sometimes anything else.
CREDENTIALS = [TOKEN, KEY, {"HTTP_X_API_KEY": "{read}"}, {"HTTP_AUTHORIZATION": "Token nope"}, {}]
CREDENTIALS.append({**TOKEN, **KEY})
ACCEPTS = ["", "*/*", "application/json", "application/json; indent=2", "text/html"]
BODY_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", "text/csv"]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Per field: what clients send, and how often the field is there.
FIELDS = {
    "event_name": (st.sampled_from(["signup", "purchase", "new"]), 1.0),
    "distinct_id": (st.text(max_size=12), 0.5),
    "data": (st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3), 0.5),
    "timestamp": (st.sampled_from(["2026-01-02T03:04:05Z", "2026-01-02", "soon"]), 0.3),
    "count": (st.integers(min_value=-3, max_value=2**64), 0.3),
    "colour": (JSON_VALUES, 0.1),  # an unknown field
}
# What may happen to the serialized body.
FLAWS = [
    lambda body: b"\xef\xbb\xbf" + body,  # a byte order mark
    lambda body: body[:-1],  # cut short
    lambda body: body + b" x",  # trailing junk
    lambda body: body.replace(b"}", b', "count": NaN}', 1),
    lambda body: body.replace(b"{", b'{"event_name": "purchase", ', 1),  # a repeated key
    lambda body: body.replace(b"}", b', "distinct_id": "\\u0000"}', 1),
    lambda body: body.replace(b"}", b', "distinct_id": "\xff"}', 1),  # not UTF-8
]


def _often(draw, usual: list, unusual: list, *, usually: float = 0.85):
    """One of `usual` (with probability `usually`), else one of `unusual`."""
    rare = draw(st.floats(0, 1)) >= usually
    return draw(st.sampled_from(unusual if rare else usual))


@st.composite
def requests(draw) -> tuple[dict, object, dict, str]:
    """(fields of the event, a flaw for its serialized form or None, headers, body type)."""
    fields = {}
    for name, (usual, presence) in FIELDS.items():
        if draw(st.floats(0, 1)) < presence:
            rare = draw(st.floats(0, 1)) >= 0.9
            fields[name] = draw(JSON_VALUES if rare else usual)
    flaw = _often(draw, [None], FLAWS)
    headers = dict(_often(draw, CREDENTIALS[:2], CREDENTIALS[2:]))
    if accept := _often(draw, ACCEPTS[:3], ACCEPTS[3:]):
        headers["HTTP_ACCEPT"] = accept
    return fields, flaw, headers, _often(draw, BODY_TYPES[:3], BODY_TYPES[3:])


def test_for_any_body_and_headers_the_fast_path_answers_what_the_view_answers(sender, answered):
    @examples(200)
    @given(requests())
    def check(request) -> None:
        fields, flaw, headers, body_type = request
        answers = []
        for fast in (True, False):
            # A new uuid each time, so that neither finds the other's event stored.
            body = json.dumps({**fields, "uuid": str(uuid.uuid4())}).encode()
            case = Case("any", answered=True, status=0, body=flaw(body) if flaw else body)
            case.headers, case.content_type = headers, body_type
            answers.append(sender.send(case, fast=fast))
        fast, view = answers
        assert fast.status_code == view.status_code, (fast.content, view.content)
        assert _headers(fast) == _headers(view)
        assert _body(fast) == _body(view)

    check()
    # Both kinds of request were drawn, many of each: answered, and handed on.
    assert min(Counter(answered).values()) > 20, Counter(answered)
