"""tracker.js in headless Chromium, on a shop page of another origin: what a tenant's
visitors really run. Every check reads back what the service stored, through its API."""

import time
from collections import Counter
from urllib.parse import urlencode

import pytest

from eventtracker.tests.live_server import call

BATCH_PATH = "/api/eventlogs/batch/"


def wait_for(check, *, timeout: float = 40.0, interval: float = 0.2):
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval)
    pytest.fail(f"gave up after {timeout} s waiting for {check.__doc__ or check}")


def stored(service: str, token: str) -> list[dict]:
    status, logs = call(service + "/api/eventlogs/?limit=1000", token=token)
    assert status == 200
    return logs


def sent(log: dict) -> dict:
    """The properties the page sent: those the service derived start with `$`."""
    return {key: value for key, value in log["data"].items() if not key.startswith("$")}


def open_shop(driver, shop: str, *, key: str, host: str, flush: int = 200) -> None:
    driver.get(f"{shop}/?{urlencode({'key': key, 'host': host, 'flush': flush})}")
    wait_for(lambda: driver.find_element("id", "ready").text == "ready")


def click(driver, element_id: str, times: int = 1) -> None:
    for _ in range(times):
        driver.find_element("id", element_id).click()


def settled(service: str, token: str, expected: int) -> list[dict]:
    """The stored logs once `expected` arrived, after a pause that lets any duplicate in."""

    def arrived():
        """the expected number of events to be stored"""
        logs = stored(service, token)
        return logs if len(logs) >= expected else None

    wait_for(arrived)
    time.sleep(1.0)
    return stored(service, token)


def test_clicks_store_exactly_those_events_with_their_data_and_user(driver, service, shop, account):
    open_shop(driver, shop, key=account["key"], host=service)

    click(driver, "add-to-cart", times=2)
    click(driver, "identify")
    click(driver, "checkout")
    logs = settled(service, account["token"], expected=3)

    assert Counter(log["event_name"] for log in logs) == {"add_to_cart": 2, "checkout": 1}
    carts = [log for log in logs if log["event_name"] == "add_to_cart"]
    (checkout,) = [log for log in logs if log["event_name"] == "checkout"]
    # What the page sent, beside what the service adds to a page's events ($browser …),
    # and the screen width the tracker adds to each (one device for the page's events).
    width = driver.execute_script("return screen.width")
    assert all(sent(log) == {"sku": "A-1", "price": 12.5, "screen_width": width} for log in carts)
    assert sent(checkout) == {"items": 1, "screen_width": width}
    assert checkout["data"]["$browser"] == "Chrome"
    anonymous = {log["distinct_id"] for log in carts}
    assert len(anonymous) == 1  # one anonymous visitor
    assert anonymous != {""}
    assert checkout["distinct_id"] == "shopper-7"
    assert len({log["uuid"] for log in logs}) == 3


def test_leaving_the_page_right_after_track_still_delivers_it(driver, service, shop, account):
    # A minute's flush interval: only the pagehide beacon can deliver the event in time.
    open_shop(driver, shop, key=account["key"], host=service, flush=60_000)

    click(driver, "checkout")
    driver.get("about:blank")

    (log,) = settled(service, account["token"], expected=1)
    assert log["event_name"] == "checkout"


def test_two_503s_then_acceptance_deliver_every_event_exactly_once(
    driver, service, shop, account, faulty_proxy
):
    proxy, log, rules = faulty_proxy
    failures = iter([503, 503])
    rules["fail"] = lambda method, path: (
        next(failures, None) if method == "POST" and path.startswith(BATCH_PATH) else None
    )
    open_shop(driver, shop, key=account["key"], host=proxy)

    click(driver, "add-to-cart", times=3)
    logs = settled(service, account["token"], expected=3)

    answered = [status for method, path, status in log.seen if method == "POST"]
    assert answered[:2] == [503, 503]
    assert 200 in answered[2:]
    assert len(logs) == 3
    assert len({entry["uuid"] for entry in logs}) == 3


def test_a_disallowed_origin_cannot_send_and_an_allowed_one_can_without_preflight(
    driver, service, shop, account, faulty_proxy
):
    proxy, log, _ = faulty_proxy
    elsewhere = {"name": "other site", "role": "ingest", "allowed_origins": ["https://x.example"]}
    status, other_key = call(service + "/api/keys/", token=account["token"], body=elsewhere)
    assert status == 201

    open_shop(driver, shop, key=other_key["key"], host=proxy)
    click(driver, "checkout")

    def refused():
        """the refused request to be counted"""
        _, quality = call(service + "/api/stats/ingestion", token=account["token"])
        return sum(day["rejected"]["origin_not_allowed"] for day in quality.values())

    assert wait_for(refused) == 1
    assert stored(service, account["token"]) == []

    open_shop(driver, shop, key=account["key"], host=proxy)
    click(driver, "checkout")
    (stored_log,) = settled(service, account["token"], expected=1)

    assert stored_log["event_name"] == "checkout"
    assert "OPTIONS" not in log.methods()  # text/plain + ?key=: a CORS simple request
    assert [status for method, _, status in log.seen if method == "POST"] == [403, 200]
