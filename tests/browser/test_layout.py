"""The pages as a phone shows them, with names as tenants choose them (very long, holding a
right-to-left override): no page is wider than the screen, Log out stays on it, and a
name's direction stays inside the name."""

import datetime as dt
from contextlib import contextmanager
from urllib.parse import quote

from eventtracker.tests.live_server import call
from tests.browser.test_pages import log_in

LONG_NAME = "checkout_" + "x" * 190  # one 199-character word, as event names may be
RTL_NAME = "a\u202eb"  # a right-to-left override, never closed
AFTER_RTL = "c_after"  # sorted after it: "Your events: a‮b, c_after, …"
PHONE_WIDTH = 360


@contextmanager
def phone(driver):
    """The page laid out on a 360-pixel-wide phone screen."""
    metrics = {"width": PHONE_WIDTH, "height": 800, "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _tenant_with_names(service: str, token: str) -> int:
    """Events of those names, a long tenant name, and a dashboard of one saved insight."""
    status, _ = call(
        service + "/api/tenant/", method="PATCH", token=token, body={"name": LONG_NAME}
    )
    assert status == 200
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()
    events = [
        {"event_name": name, "distinct_id": "u1", "timestamp": f"{day}T10:00:00Z"}
        for name in (LONG_NAME, RTL_NAME, AFTER_RTL)
    ]
    status, _ = call(service + "/api/eventlogs/batch/", token=token, body={"events": events})
    assert status == 200
    insight = {"name": LONG_NAME, "kind": "query", "definition": {"breakdown": ["event"]}}
    status, saved = call(service + "/api/insights/", token=token, body=insight)
    assert status == 201, saved
    board = {"name": LONG_NAME, "insights": [saved["id"]]}
    status, saved = call(service + "/api/dashboards/", token=token, body=board)
    assert status == 201, saved
    return saved["id"]


def _overflow(driver) -> dict:
    """How far the page and the Log out button reach past the screen's right edge."""
    return driver.execute_script(
        "const logout = document.querySelector('.logout button').getBoundingClientRect();"
        "return {page: document.documentElement.scrollWidth - window.innerWidth,"
        "        logout: Math.round(logout.right - window.innerWidth)};"
    )


def test_no_page_is_wider_than_a_phone_with_long_names(driver, service, account):
    board = _tenant_with_names(service, account["token"])
    log_in(driver, service, account, "/dashboard/")
    bad_zone = quote(LONG_NAME)  # an error message quoting it, beside the zone's field
    pages = [
        "/",
        "/dashboard/",
        f"/dashboard/?tz={bad_zone}",
        "/dashboard/query/",
        "/dashboard/query/?breakdown=event",
        "/dashboard/boards/",
        f"/dashboard/boards/{board}/",
        f"/dashboard/web/?f=$pathname:/{LONG_NAME}",  # the filter shown above the page
    ]
    with phone(driver):
        overflow = {}
        for path in pages:
            driver.get(service + path)
            overflow[path] = _overflow(driver)
    past_the_edge = {path: reach for path, reach in overflow.items() if max(reach.values()) > 0}
    assert past_the_edge == {}


def test_a_right_to_left_override_in_a_name_stays_in_that_name(driver, service, account):
    _tenant_with_names(service, account["token"])
    log_in(driver, service, account, "/dashboard/query/")
    positions = driver.execute_script(
        "return [...document.querySelectorAll('p.muted code')].map(code => {"
        "  const box = code.getBoundingClientRect();"
        "  return [code.textContent, Math.round(box.left), Math.round(box.right)]; });"
    )
    (rtl,) = [p for p in positions if p[0] == RTL_NAME]
    (after,) = [p for p in positions if p[0] == AFTER_RTL]
    # The name after it is drawn after it, left to right, not inside its reversed run.
    assert after[1] >= rtl[2], positions
