"""Rate limits per API key or user: separate ingest and read rates, per-tenant overrides,
RateLimit-* headers, 429 + Retry-After; counters in the process's memory (exact for one
process), or shared by every worker in Redis when REDIS_URL is set. Never a database
write."""

import ipaddress
import threading
import uuid

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from core import ratelimit
from core.checks import RATE_SETTINGS, proxies_named_in_production, rates_readable
from core.ratelimit import Rate, hit, parse_rate
from eventtracker.tests.live_server import call, live_gunicorn, sign_up

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def rates(settings):
    def set_rates(*, ingest: str = "off", read: str = "off") -> None:
        settings.EVENTTRACKER = {
            **settings.EVENTTRACKER,
            "INGEST_RATE": ingest,
            "READ_RATE": read,
        }

    return set_rates


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/min", Rate(600, 60)),
        ("20/s", Rate(20, 1)),
        (" 10000 / hour ", Rate(10000, 3600)),
        ("100000/day", Rate(100000, 86400)),
        ("5/MINUTE", Rate(5, 60)),
        ("off", None),
        ("", None),
        (None, None),
    ],
)
def test_rates_are_parsed(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["600", "600/fortnight", "-1/min", "1.5/s", "/min", "x/min"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["0/min", "0/s", " 000 / hour ", "0/DAY"])
def test_a_rate_of_zero_is_refused_naming_block_and_off(text):
    with pytest.raises(ValueError, match="allows no request at all") as refused:
        parse_rate(text)

    assert "/block" in str(refused.value)
    assert "off" in str(refused.value)


@pytest.mark.parametrize("name", RATE_SETTINGS)
@pytest.mark.parametrize(("text", "problem"), [("0/min", "no request at all"), ("x", "not a rate")])
def test_a_bad_rate_setting_is_a_system_check_error(settings, name, text, problem):
    settings.EVENTTRACKER = {**settings.EVENTTRACKER, name: text}

    [error] = rates_readable(None)

    assert error.id == "core.E001"
    assert error.msg.startswith(f"{name}: ")
    assert problem in error.msg


def test_the_default_rate_settings_pass_the_check():
    assert rates_readable(None) == []


@pytest.mark.django_db
def test_reads_over_the_rate_get_429_with_retry_after_and_ratelimit_headers(api_client, rates):
    rates(read="3/min")

    answers = [api_client.get("/api/events/") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert 1 <= int(answers[3]["Retry-After"]) <= 60
    assert 1 <= int(answers[3]["RateLimit-Reset"]) <= 60
    assert "throttled" in answers[3].json()["detail"].lower()


@pytest.mark.django_db
def test_ingest_and_read_are_counted_apart(api_client, rates):
    rates(ingest="1/min", read="2/min")
    post = lambda: api_client.post("/api/eventlogs/", {"event_name": "a"}).status_code  # noqa: E731

    assert [post(), post()] == [201, 429]
    assert api_client.get("/api/eventlogs/").status_code == 200
    # Seed 000's POST is ingestion too, and shares the ingest counter of this user.
    assert api_client.post("/api/v1/events/a", {}).status_code == 429


@pytest.mark.django_db
def test_each_key_and_each_user_has_its_own_counter(tenant, user, api_client, key_client, rates):
    rates(read="1/min")
    first, second = key_client("read"), key_client("read")

    assert first.get("/api/events/").status_code == 200
    assert first.get("/api/events/").status_code == 429
    assert second.get("/api/events/").status_code == 200
    assert api_client.get("/api/events/").status_code == 200


@pytest.mark.django_db
def test_a_tenant_may_have_its_own_rates(api_client, other_client, tenant, rates):
    rates(read="100/min")
    tenant.read_rate = "1/min"
    tenant.save()

    mine = [api_client.get("/api/events/").status_code for _ in range(2)]
    theirs = [other_client.get("/api/events/").status_code for _ in range(2)]

    assert (mine, theirs) == ([200, 429], [200, 200])


@pytest.mark.django_db
def test_a_tenant_rate_of_off_lifts_the_server_default(api_client, tenant, rates):
    rates(read="1/min")
    tenant.read_rate = "off"
    tenant.save()

    assert {api_client.get("/api/events/").status_code for _ in range(3)} == {200}


@pytest.mark.django_db
def test_no_headers_without_a_limit_and_none_for_anonymous_requests(api_client, anon_client):
    assert "RateLimit-Limit" not in api_client.get("/api/events/")
    assert "RateLimit-Limit" not in anon_client.get("/api/events/")


@pytest.mark.django_db
def test_a_new_window_starts_a_new_count():
    rate = Rate(limit=2, seconds=60)
    counter = f"read:test:{uuid.uuid4()}"

    in_first = [hit(counter, rate, now=120.0 + i).allowed for i in range(3)]
    in_second = hit(counter, rate, now=180.0)

    assert in_first == [True, True, False]
    assert in_second.allowed
    assert in_second.remaining == 1
    assert in_second.reset == 60


@pytest.mark.django_db  # to count queries: there must be none
def test_concurrent_hits_are_all_counted(django_assert_num_queries):
    rate, counter, threads, each = Rate(limit=10**6, seconds=3600), f"c:{uuid.uuid4()}", 4, 25
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(each):
                hit(counter, rate, now=7200.0)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)

    assert errors == []
    with django_assert_num_queries(0):
        assert hit(counter, rate, now=7200.0).remaining == rate.limit - threads * each - 1


def test_redis_counts_atomically(settings):
    settings.REDIS_URL = REDIS_URL
    ratelimit._redis.cache_clear()
    rate, counter = Rate(limit=2, seconds=60), f"read:test:{uuid.uuid4()}"

    # One instant for the three: on the clock, a minute could turn between two of them.
    answers = [hit(counter, rate, now=7230.0) for _ in range(3)]

    assert [a.allowed for a in answers] == [True, True, False]
    assert [a.remaining for a in answers] == [1, 0, 0]
    ratelimit._redis.cache_clear()


def test_requests_pass_unlimited_while_redis_is_unreachable(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    ratelimit._redis.cache_clear()
    rate, counter = Rate(limit=1, seconds=60), f"read:test:{uuid.uuid4()}"

    answers = [hit(counter, rate) for _ in range(2)]  # the second would be over the limit

    assert [a.allowed for a in answers] == [True, True]
    assert "Redis unavailable" in caplog.text
    ratelimit._redis.cache_clear()


@pytest.mark.parametrize(
    ("workers", "redis_url"), [(2, REDIS_URL), (1, "")], ids=["two-workers-redis", "one-process"]
)
def test_the_limit_is_exact_for_every_worker_sharing_counters(tmp_path, workers, redis_url):
    """12 requests of one user at 5 per minute: exactly 5 pass — with two gunicorn workers
    sharing Redis, whichever worker answers each one, and in one process (four threads)
    counting in memory."""
    # A prefix of its own: counters of earlier runs in the same minute stay apart.
    env = {"READ_RATE": "5/min", "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": uuid.uuid4().hex}
    with live_gunicorn(tmp_path, workers=workers, **env) as base:
        token = sign_up(base, f"u{uuid.uuid4().hex[:8]}", "alpine12x")
        statuses = [call(f"{base}/api/events/", token=token)[0] for _ in range(12)]

    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


@pytest.mark.django_db
def test_an_admin_keys_posts_and_reads_have_separate_counters(tenant, rates):
    # An admin key posting events uses the ingest counter of that key, not the read one.
    rates(ingest="1/min", read="1/min")
    _, secret = api_key_create(tenant=tenant, name="ops", role="admin")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)

    assert client.get("/api/events/").status_code == 200
    assert client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 201
    assert client.post("/api/eventlogs/", {"event_name": "a"}).status_code == 429
    assert client.get("/api/events/").status_code == 429


@pytest.mark.parametrize(
    ("production", "proxies", "warned"),
    [(True, [], True), (True, ["127.0.0.1/32"], False), (False, [], False)],
)
def test_production_without_trusted_proxies_is_warned(settings, production, proxies, warned):
    """Behind the proxy the production profile assumes, one stranger's failed logins
    throttled everyone: each client had the proxy's address."""
    settings.PRODUCTION = production
    settings.TRUSTED_PROXIES = [ipaddress.ip_network(network) for network in proxies]

    found = proxies_named_in_production(None)

    assert [warning.id for warning in found] == (["core.W001"] if warned else [])
