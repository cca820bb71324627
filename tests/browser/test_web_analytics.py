"""Web analytics end to end in headless Chromium: the shop page loads the tracker and its
links add-on under names of its own with the snippet's defaults, is navigated as a
single-page app, offers a download and leaves by a link to another site, and the
service's web stats count the page views, the visit, its source and its clicks."""

from urllib.parse import urlencode

from events.devices import agent, device_type
from eventtracker.tests.live_server import call
from tests.browser.test_pages import log_in
from tests.browser.test_tracker import click, settled, wait_for


def test_a_single_page_apps_visit_is_counted(driver, service, shop, account, artifacts):
    query = {"key": account["key"], "host": service, "flush": 200, "web": 1}
    campaign = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "autumn"}
    driver.get(f"{shop}/")
    driver.execute_script("localStorage.clear()")  # what earlier tests' pages stored
    driver.get(f"{shop}/?{urlencode({**query, **campaign})}")
    wait_for(lambda: driver.find_element("id", "ready").text == "ready")

    # Each step waits for its events to be stored: batches apart by more than the clock
    # skew the server corrects per batch, so the stored times keep the order of the steps.
    settled(service, account["token"], expected=1)
    click(driver, "to-pricing")  # pushState: a page view of /pricing, a leave of /
    settled(service, account["token"], expected=3)
    driver.back()  # popstate: / again
    wait_for(lambda: driver.execute_script("return location.pathname") == "/")
    logs = settled(service, account["token"], expected=5)

    views = sorted(
        (log for log in logs if log["event_name"] == "$pageview"), key=lambda log: log["timestamp"]
    )
    assert [log["data"]["$pathname"] for log in views] == ["/", "/pricing", "/"]
    assert "key=" not in views[0]["data"]["url"]  # sensitiveParams never leave the page
    # A history change's view came from the page before it, as a navigation would say.
    assert views[1]["data"]["referrer"] == views[0]["data"]["url"]
    assert views[2]["data"]["referrer"] == views[1]["data"]["url"]
    assert {log["distinct_id"] for log in logs} == {views[0]["distinct_id"]}
    assert views[0]["distinct_id"].startswith("anon-")  # cookieless: the server's id
    assert driver.execute_script("return localStorage.length") == 0  # nothing stored
    assert views[0]["data"]["$browser"] == "Chrome"
    # By the screen width the page sent, as Plausible reads it.
    width = views[0]["data"]["screen_width"]
    assert views[0]["data"]["$device_type"] == device_type(agent(""), width)
    leaves = [log for log in logs if log["event_name"] == "$pageleave"]
    assert {log["data"]["url"].split("?")[0] for log in leaves} >= {f"{shop}/", f"{shop}/pricing"}

    # The links add-on: a download (the page keeps it from navigating), then a link to
    # another site, whose click leaves in the page's last beacon with its $pageleave.
    click(driver, "price-list")
    settled(service, account["token"], expected=6)
    click(driver, "to-docs")
    wait_for(lambda: driver.current_url.startswith(service))
    logs = settled(service, account["token"], expected=8)
    links = ("$download", "$outbound")
    clicks = {log["event_name"]: log["data"]["url"] for log in logs if log["event_name"] in links}
    assert clicks == {
        "$download": f"{shop}/files/price-list.pdf",
        "$outbound": f"{service}/health/ping",
    }

    status, stats = call(f"{service}/api/stats/web?date_range=today&tz=UTC", token=account["token"])

    assert status == 200, stats
    assert (stats["visitors"], stats["visits"], stats["pageviews"]) == (1, 1, 3)
    assert stats["bounce_rate"] == 0
    assert stats["entry_pages"] == [{"value": "/", "visitors": 1, "visits": 1}]
    assert stats["sources"] == [{"value": "newsletter", "visitors": 1, "visits": 1}]
    assert stats["channels"][0]["value"] == "email"
    assert stats["utm_campaigns"][0]["value"] == "autumn"
    assert {row["page"]: row["pageviews"] for row in stats["pages"]} == {"/": 2, "/pricing": 1}
    assert stats["downloads"] == [
        {"value": f"{shop}/files/price-list.pdf", "visitors": 1, "events": 1}
    ]
    assert stats["outbound_links"] == [
        {"value": f"{service}/health/ping", "visitors": 1, "events": 1}
    ]
    status, realtime = call(f"{service}/api/stats/web/realtime", token=account["token"])
    assert (status, realtime["visitors"]) == (200, 1)

    # The dashboard's web analytics page shows them, and a source's row filters it.
    log_in(driver, service, account, "/dashboard/web/?period=today")
    cards = {
        card.get_attribute("data-key"): card.find_element("class name", "card-value").text
        for card in driver.find_elements("css selector", "#headline .card")
    }
    assert (cards["visitors"], cards["visits"], cards["pageviews"]) == ("1", "1", "3")
    driver.find_element("link text", "newsletter").click()
    wait_for(lambda: "f=%24source%3Anewsletter" in driver.current_url)
    assert "newsletter" in driver.find_element("id", "filters").text
    # The newsletter's visit with all its pages (/pricing's own view has no source).
    shown = driver.find_element("css selector", "[data-key=pageviews] .card-value").text
    assert shown == "3"
    driver.save_screenshot(str(artifacts / "web-analytics.png"))


def test_leaving_for_another_page_and_coming_back(driver, service, shop, account):
    """A link to another page of the site: one $pageleave (the tab is hidden, then the
    page is hidden: one exit), a referrer without the sensitive parameters, one device
    for every event; back again from the back-forward cache: a page view of its own."""
    query = {"key": account["key"], "host": service, "flush": 200, "web": 1}
    secret = {"token": "SECRET123", "email": "a@b.c"}
    driver.get(f"{shop}/sens?{urlencode({**query, **secret})}")
    wait_for(lambda: driver.find_element("id", "ready").text == "ready")
    settled(service, account["token"], expected=1)
    driver.execute_script("window.kept = 1")  # still there after back: the cached page
    driver.execute_script("location.href = arguments[0]", f"{shop}/next?{urlencode(query)}")
    wait_for(lambda: driver.execute_script("return location.pathname") == "/next")
    logs = settled(service, account["token"], expected=3)

    names = sorted((log["event_name"], log["data"]["$pathname"]) for log in logs)
    assert names == [("$pageleave", "/sens"), ("$pageview", "/next"), ("$pageview", "/sens")]
    assert "SECRET123" not in str(logs)
    assert "a%40b.c" not in str(logs)  # the email, as the query string held it
    (arrival,) = [log for log in logs if log["data"]["$pathname"] == "/next"]
    assert arrival["data"]["referrer"] == f"{shop}/sens"
    assert len({log["data"]["$device_type"] for log in logs}) == 1

    driver.back()
    wait_for(lambda: driver.execute_script("return location.pathname") == "/sens")
    restored = driver.execute_script("return window.kept")
    logs = settled(service, account["token"], expected=5)
    names = [(log["event_name"], log["data"]["$pathname"]) for log in logs]
    assert restored == 1
    assert names.count(("$pageview", "/sens")) == 2
    assert names.count(("$pageleave", "/next")) == 1


def test_a_page_with_letters_beyond_ascii_is_listed_as_people_read_it(
    driver, service, shop, account
):
    """The browser sends /%C3%BCber-uns for /über-uns: the stats, the dashboard and its
    filter name the page as its address bar shows it."""
    query = {"key": account["key"], "host": service, "flush": 200, "web": 1}
    driver.get(f"{shop}/über-uns?{urlencode(query)}")
    wait_for(lambda: driver.find_element("id", "ready").text == "ready")
    logs = settled(service, account["token"], expected=1)
    assert "/%C3%BCber-uns" in logs[0]["data"]["url"]  # what the page sent stays

    status, stats = call(f"{service}/api/stats/web?date_range=today&tz=UTC", token=account["token"])

    assert status == 200, stats
    assert [row["page"] for row in stats["pages"]] == ["/über-uns"]
    assert [row["value"] for row in stats["entry_pages"]] == ["/über-uns"]
    log_in(driver, service, account, "/dashboard/web/?period=today")
    driver.find_element("link text", "/über-uns").click()
    wait_for(lambda: "f=%24pathname" in driver.current_url)
    assert "/über-uns" in driver.find_element("id", "filters").text
    shown = driver.find_element("css selector", "[data-key=pageviews] .card-value").text
    assert shown == "1"
