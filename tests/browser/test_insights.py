"""The insight pages in headless Chromium: the query builder filled in and submitted
like a person would, its table and the API's chart; a saved dashboard shared and read
through its link without a login, until the link is revoked."""

import datetime as dt

from eventtracker.tests.live_server import call
from tests.browser.test_pages import images_loaded, log_in
from tests.browser.test_tracker import wait_for


def _events(service: str, token: str) -> None:
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).date()
    events = [
        {
            "event_name": name,
            "distinct_id": user,
            "timestamp": f"{day}T10:{minute:02d}:00Z",
            "data": {"plan": plan},
        }
        for minute, (name, user, plan) in enumerate(
            [
                ("view", "u1", "pro"),
                ("view", "u2", "free"),
                ("buy", "u1", "pro"),
                ("view", "u3", "pro"),
            ]
        )
    ]
    status, _ = call(service + "/api/eventlogs/batch/", token=token, body={"events": events})
    assert status == 200


def test_the_query_builder_answers_with_a_table_and_a_chart(driver, service, account, artifacts):
    _events(service, account["token"])
    log_in(driver, service, account, "/dashboard/query/")

    driver.find_element("id", "id_event").send_keys("view")
    driver.find_element("css selector", "#id_metric option[value=uniques]").click()
    driver.find_element("id", "id_breakdown").send_keys("data.plan")
    driver.find_element("css selector", "#insight-form button[type=submit]").click()
    wait_for(lambda: driver.find_elements("id", "insight-table"))
    wait_for(lambda: images_loaded(driver))

    rows = driver.execute_script(
        "return [...document.querySelectorAll('#insight-table tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent))"
    )
    assert rows == [["pro", "2"], ["free", "1"]]
    driver.save_screenshot(str(artifacts / "query-builder.png"))


def test_a_shared_dashboard_reads_without_a_login_until_revoked(driver, service, account):
    _events(service, account["token"])
    definition = {"metrics": ["events"], "breakdown": ["event"], "date_range": "7d"}
    status, insight = call(
        service + "/api/insights/",
        token=account["token"],
        body={"name": "Events by name", "kind": "query", "definition": definition},
    )
    assert status == 201
    status, board = call(
        service + "/api/dashboards/",
        token=account["token"],
        body={"name": "Shop", "insights": [insight["id"]]},
    )
    assert status == 201
    _, shared = call(
        f"{service}/api/dashboards/{board['id']}/share/", token=account["token"], body={}
    )

    driver.delete_all_cookies()
    driver.get(shared["share_url"])
    wait_for(lambda: images_loaded(driver))

    main = driver.find_element("tag name", "main").text
    assert "Events by name" in main
    assert "view" in main
    call(f"{service}/api/dashboards/{board['id']}/share/", method="DELETE", token=account["token"])
    driver.get(shared["share_url"])
    assert "Events by name" not in driver.page_source
