"""The dashboard and the demo page in headless Chromium, logged in through the login
form like a person; screenshots are saved in test-artifacts/ (and img/ in the README)."""

import datetime as dt
from collections import Counter

from eventtracker.tests.live_server import call, sign_up
from tests.browser.test_tracker import click, settled, wait_for


def log_in(driver, service: str, account: dict, next_path: str) -> None:
    driver.get(f"{service}/dashboard/login/?next={next_path}")
    driver.delete_all_cookies()  # the browser is shared by the tests: start logged out
    driver.get(f"{service}/dashboard/login/?next={next_path}")
    driver.find_element("id", "id_username").send_keys(account["username"])
    driver.find_element("id", "id_password").send_keys(account["password"])
    driver.find_element("css selector", "form button[type=submit]").click()
    wait_for(lambda: next_path in driver.current_url and "login" not in driver.current_url)


def images_loaded(driver) -> bool:
    """every chart image to be drawn"""
    return all(complete and width > 0 for _, complete, width in image_states(driver))


def image_states(driver) -> list[tuple[str, bool, int]]:
    """(src, complete, naturalWidth) of every image of the page."""
    return driver.execute_script(
        "return [...document.images].map(i => [i.src, i.complete, i.naturalWidth]);"
    )


def test_demo_buttons_store_those_events(driver, service, account, artifacts):
    log_in(driver, service, account, "/demo/")
    wait_for(lambda: driver.find_element("id", "distinct-id").text not in ("", "…"))

    click(driver, "track-add-to-cart", times=2)
    click(driver, "identify-demo-user-1")
    click(driver, "track-checkout")
    click(driver, "flush-now")
    logs = settled(service, account["token"], expected=3)

    assert Counter(log["event_name"] for log in logs) == {"add_to_cart": 2, "checkout": 1}
    anonymous = {log["distinct_id"] for log in logs if log["event_name"] == "add_to_cart"}
    (checkout,) = [log for log in logs if log["event_name"] == "checkout"]
    assert len(anonymous) == 1
    assert anonymous != {"demo-user-1"}
    assert checkout["distinct_id"] == "demo-user-1"
    wait_for(lambda: "accepted" in driver.find_element("id", "tracked-log").text)
    driver.save_screenshot(str(artifacts / "demo.png"))


def test_the_dashboard_shows_this_tenants_data_and_nothing_of_another(
    driver, service, service_dir, account, artifacts, tmp_path
):
    today = dt.datetime.now(dt.UTC).date()  # days before today: never in the future
    events = [
        {"event_name": name, "distinct_id": f"u{i % 3}", "timestamp": f"{day}T{hour:02d}:15:00Z"}
        for i, (name, day, hour) in enumerate(
            (name, today - dt.timedelta(days=offset), hour)
            for name, offset, hour in [
                ("purchase", 1, 9),
                ("purchase", 2, 18),
                ("signup", 3, 12),
                ("purchase", 4, 20),
                ("page_view", 1, 10),
                ("page_view", 2, 11),
                ("page_view", 5, 21),
                ("page_view", 6, 8),
            ]
        )
    ]
    status, _ = call(
        service + "/api/eventlogs/batch/", token=account["token"], body={"events": events}
    )
    assert status == 200
    call(service + "/api/eventlogs/", token=account["token"], body={"event_name": ""})  # rejected
    stranger = {"username": f"stranger-{tmp_path.name}", "password": "alpine12x"}
    their_token = sign_up(service, **stranger)
    body = {"events": [{"event_name": "their_secret_event"}]}
    call(service + "/api/eventlogs/batch/", token=their_token, body=body)

    log_in(driver, service, account, "/dashboard/")
    try:
        wait_for(lambda: images_loaded(driver))
    except BaseException:
        # Which chart did not arrive, and what the service answers for it now.
        for src, complete, width in image_states(driver):
            status, _ = call(service + src.removeprefix(service), token=account["token"])
            print(f"{src}: complete={complete} width={width}, now answers {status}")
        log = (service_dir / "gunicorn.log").read_text(errors="replace").splitlines()
        print("\n".join(log[-60:]))
        raise
    page = driver.find_element("tag name", "main").text

    assert "purchase" in page
    assert "page_view" in page
    assert "their_secret_event" not in driver.page_source
    assert stranger["username"] not in driver.page_source
    # The ingestion table's days stay on one line ("2026-/11-26" wrapped before).
    day_cells = driver.execute_script(
        "return [...document.querySelectorAll('th.date')].map("
        "th => [th.textContent, getComputedStyle(th).whiteSpace])"
    )
    assert day_cells
    assert all(white_space == "nowrap" for _, white_space in day_cells), day_cells
    driver.save_screenshot(str(artifacts / "dashboard.png"))
