"""A web page's events at ingestion: enriched with browser, device, place, page, source
and campaign; cookieless visitor ids; bots and Do-Not-Track refused and counted; other
requests untouched."""

import json

import pytest
from netaddr import IPSet
from rest_framework.test import APIClient

from accounts.services import api_key_create
from events import geo, visitors
from events.models import EventLog, IngestionCountTotal, VisitorSalt

pytestmark = pytest.mark.django_db
BATCH = "/api/eventlogs/batch/"
SHOP = "https://shop.example"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGE = f"{SHOP}/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=autumn&x=1"


@pytest.fixture
def ingest_key(tenant):
    _, secret = api_key_create(tenant=tenant, name="web", role="ingest", allowed_origins=[SHOP])
    return secret


@pytest.fixture
def geoip(tmp_path, settings):
    """A small City database: 81.2.69.0/24 in England, 2a02:c7c::/32 in Germany."""
    from mmdb_writer import MMDBWriter

    writer = MMDBWriter(
        ip_version=6, database_type="GeoIP2-City", languages=["en"], ipv4_compatible=True
    )
    place = {"country": {"iso_code": "GB"}, "subdivisions": [{"names": {"en": "England"}}]}
    writer.insert_network(IPSet(["81.2.69.0/24"]), place)
    writer.insert_network(IPSet(["2a02:c7c::/32"]), {"country": {"iso_code": "DE"}})
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    settings.GEOIP_DATABASE = str(path)
    geo.clear_cache()
    yield
    geo.clear_cache()


def send(
    secret, events, *, origin=SHOP, agent=CHROME, address="81.2.69.142", path=BATCH, **headers
):
    extra = {"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address, **headers}
    if origin:
        extra["HTTP_ORIGIN"] = origin
    body = json.dumps({"events": events})
    return APIClient().generic(
        "POST", f"{path}?key={secret}", body, content_type="text/plain", **extra
    )


def pageview(**data):
    return {"event_name": "$pageview", "data": {"url": PAGE, **data}}


def test_a_pages_events_are_enriched(ingest_key, geoip):
    response = send(ingest_key, [pageview(referrer="https://www.google.com/search?q=a")])

    assert response.status_code == 200, response.content
    data = EventLog.objects.get().data
    assert data["url"] == PAGE  # what the page sent stays
    assert {key: value for key, value in data.items() if key.startswith("$")} == {
        "$browser": "Chrome",
        "$browser_version": "120",
        "$os": "Windows",
        "$os_version": "10",
        "$device_type": "desktop",
        "$country": "GB",
        "$region": "England",
        "$host": "shop.example",
        "$pathname": "/pricing",
        "$utm_source": "newsletter",
        "$utm_medium": "email",
        "$utm_campaign": "autumn",
        "$referrer_host": "www.google.com",
        "$source": "newsletter",  # the campaign names the source over the referrer
        "$channel": "email",
    }


@pytest.mark.parametrize(
    ("path", "pathname"),
    [
        ("/%C3%BCber-uns", "/über-uns"),  # what a browser sends for /über-uns
        ("/%E6%97%A5%E6%9C%AC", "/日本"),
        ("/a%20b", "/a b"),
        ("/bad-%FF", "/bad-%FF"),  # not UTF-8: as sent
        ("/nul-%00", "/nul-%00"),  # a control character: as sent
        ("", "/"),
    ],
)
def test_a_pages_path_is_stored_decoded(ingest_key, path, pathname):
    response = send(ingest_key, [pageview(url=f"{SHOP}{path}?utm_source=a%20b")])

    assert response.status_code == 200, response.content
    data = EventLog.objects.get().data
    assert (data["$pathname"], data["$utm_source"]) == (pathname, "a b")
    assert data["url"] == f"{SHOP}{path}?utm_source=a%20b"  # what the page sent stays


def test_the_address_is_not_stored(ingest_key, geoip):
    send(ingest_key, [pageview()], address="81.2.69.142")

    log = EventLog.objects.get()
    stored = json.dumps(log.data) + log.distinct_id
    assert "81.2.69" not in stored
    assert log.data["$country"] == "GB"


def test_a_screen_width_decides_the_device_and_ipv6_places_too(ingest_key, geoip):
    send(ingest_key, [pageview(screen_width=390)], agent=CHROME, address="2a02:c7c:1::5")

    data = EventLog.objects.get().data
    assert (data["$device_type"], data["$country"], data.get("$region")) == ("mobile", "DE", None)


def test_without_a_geoip_database_no_place_is_recorded(ingest_key):
    send(ingest_key, [pageview()], agent=IPHONE)

    data = EventLog.objects.get().data
    assert "$country" not in data
    assert (data["$browser"], data["$os"], data["$device_type"]) == (
        "Mobile Safari",
        "iOS",
        "mobile",
    )


def test_cookieless_ids_same_visitor_same_day_differ_by_browser_and_address(ingest_key):
    send(ingest_key, [pageview(), pageview()])
    send(ingest_key, [pageview()], agent=IPHONE)
    send(ingest_key, [pageview()], address="81.2.69.143")
    send(ingest_key, [{**pageview(), "distinct_id": "user-42"}])

    ids = list(EventLog.objects.order_by("id").values_list("distinct_id", flat=True))
    assert ids[0] == ids[1]
    assert ids[0].startswith(visitors.PREFIX)
    assert len({ids[0], ids[2], ids[3]}) == 3
    assert ids[4] == "user-42"  # an identified visitor keeps their id


def test_a_pages_views_clicks_and_custom_events_share_one_cookieless_id(ingest_key, api_client):
    """The site of the hash is the page's (its Origin), not the host of a click's url."""
    docs, sheet = "https://docs.other.example/guide", "https://cdn.other.example/list.pdf"
    send(ingest_key, [pageview(), {"event_name": "$outbound", "data": {"url": docs}}])
    send(ingest_key, [{"event_name": "$download", "data": {"url": sheet}}])
    send(ingest_key, [{"event_name": "signup", "data": {"plan": "pro"}}])

    assert len(set(EventLog.objects.values_list("distinct_id", flat=True))) == 1
    body = api_client.get("/api/stats/web", {"date_range": "today"}).json()
    assert body["outbound_links"] == [{"value": docs, "visitors": 1, "events": 1}]
    assert body["downloads"] == [{"value": sheet, "visitors": 1, "events": 1}]


def test_a_cookieless_ids_site_is_the_origins(tenant):
    blog = "https://blog.example"
    _, secret = api_key_create(
        tenant=tenant, name="two", role="ingest", allowed_origins=[SHOP, blog]
    )
    send(secret, [pageview()])
    send(secret, [pageview()], origin=blog)

    assert len(set(EventLog.objects.values_list("distinct_id", flat=True))) == 2


def test_a_new_days_salt_forgets_all_but_yesterdays(tenant):
    import datetime as dt

    days = [dt.date(2026, 1, day) for day in (1, 2, 3, 4)]
    ids = [
        visitors.visitor_id(tenant_id=tenant.pk, site="s", address=None, user_agent="a", day=day)
        for day in days
    ]
    assert len(set(ids)) == 4  # a new id every day
    assert sorted(VisitorSalt.objects.values_list("day", flat=True)) == days[2:]


@pytest.mark.parametrize(
    ("referrer", "page", "source", "channel"),
    [
        (None, f"{SHOP}/", None, "direct"),
        (f"{SHOP}/other", f"{SHOP}/", None, "direct"),  # within the site
        ("https://www.google.de/", f"{SHOP}/", "Google", "search"),
        ("https://t.co/abc", f"{SHOP}/", "X (Twitter)", "social"),
        ("https://mail.google.com/mail/u/0/", f"{SHOP}/", "Gmail", "email"),
        ("https://blog.example.net/post", f"{SHOP}/", "blog.example.net", "other"),
        (None, f"{SHOP}/?gclid=abc", "Google", "paid"),
        ("https://www.bing.com/", f"{SHOP}/?utm_source=bing&utm_medium=cpc", "bing", "paid"),
        (None, f"{SHOP}/?utm_source=mastodon&utm_medium=social", "mastodon", "social"),
    ],
)
def test_sources_and_channels(ingest_key, referrer, page, source, channel):
    data = {"url": page} | ({"referrer": referrer} if referrer else {})
    send(ingest_key, [{"event_name": "$pageview", "data": data}])

    stored = EventLog.objects.get().data
    assert (stored.get("$source"), stored["$channel"]) == (source, channel)


def test_the_page_cannot_forge_derived_properties(ingest_key):
    forged = {"$country": "XX", "$browser": "Forged", "$source": "Forged", "$channel": "paid"}
    send(ingest_key, [pageview(**forged), {"event_name": "signup", "data": forged}])

    stored = {log.event.name: log.data for log in EventLog.objects.select_related("event")}
    with_page, without = stored["$pageview"], stored["signup"]
    assert "$country" not in with_page
    assert with_page["$browser"] == "Chrome"
    assert with_page["$channel"] == "email"  # from the url's utm_medium, not the forged one
    # No url nor referrer: nothing derives a source, and the forged one is gone too.
    assert not {"$source", "$channel", "$country"} & set(without)


def test_known_bots_are_refused_and_counted(ingest_key, tenant):
    response = send(ingest_key, [pageview(), pageview()], agent=GOOGLEBOT)

    assert response.status_code == 403
    assert response.json()["reason"] == "bot"
    assert not EventLog.objects.exists()
    counted = IngestionCountTotal.objects.get(tenant=tenant, outcome="rejected", reason="bot")
    assert counted.events == 2


def test_requests_not_from_a_page_are_neither_refused_as_bots_nor_enriched(tenant):
    _, secret = api_key_create(tenant=tenant, name="server", role="ingest")
    response = APIClient().post(
        "/api/eventlogs/",
        {"event_name": "signup", "data": {"url": PAGE}},
        format="json",
        HTTP_X_API_KEY=secret,
        HTTP_USER_AGENT="python-requests/2.32",
    )

    assert response.status_code == 201, response.content
    log = EventLog.objects.get()
    assert (log.data, log.distinct_id) == ({"url": PAGE}, "")


@pytest.mark.parametrize("header", ["HTTP_DNT", "HTTP_SEC_GPC"])
def test_do_not_track_is_honoured_when_the_tenant_asks(ingest_key, tenant, header):
    assert send(ingest_key, [pageview()], **{header: "1"}).status_code == 200
    tenant.respect_dnt = True
    tenant.save()

    response = send(ingest_key, [pageview()], **{header: "1"})

    assert response.status_code == 403
    assert response.json()["reason"] == "do_not_track"
    assert EventLog.objects.count() == 1
    assert IngestionCountTotal.objects.get(tenant=tenant, reason="do_not_track").events == 1


def test_the_collect_route_under_any_name_is_a_pages(ingest_key):
    response = send(ingest_key, [pageview()], origin=None, path="/stats-4f2a/e")
    assert response.status_code == 200, response.content
    assert EventLog.objects.get().data["$browser"] == "Chrome"

    bot = send(ingest_key, [pageview()], origin=None, agent=GOOGLEBOT, path="/p/e/")
    assert (bot.status_code, bot.json()["reason"]) == (403, "bot")


def test_the_tracker_under_any_name(client):
    named = client.get("/js/app-7c1.js")
    plain = client.get("/t.js")

    assert named.status_code == 200
    assert named.content == plain.content
    assert client.get("/js/../t.js").status_code == 404
    # A name is letters, digits, "-" and "_", as the README says.
    assert client.get("/js/app.min.js").status_code == 404


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"CONTENT_LENGTH": str(2 * 1024 * 1024)}, 413, "too_large"),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}, 411, "malformed_json"),
    ],
    ids=["too large", "chunked"],
)
def test_the_collect_route_refuses_a_body_as_the_batch_route_does(
    ingest_key, headers, status, reason
):
    """The same answer (reason, CORS headers for the page) and the same count: the
    collect route is the batch route under another name."""
    answers = [
        send(ingest_key, [pageview()], path=path, **headers) for path in (BATCH, "/stats-4f2a/e")
    ]

    for response in answers:
        assert response.status_code == status, response.content
        assert response["Access-Control-Allow-Origin"] == SHOP
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["reason"] == reason
    counted = IngestionCountTotal.objects.filter(outcome="rejected")
    assert {row.reason for row in counted} == {reason}
    assert sum(row.requests for row in counted) == 2
