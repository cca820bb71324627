"""The Content-Security-Policy of the HTML pages breaks nothing: each page, loaded in
Chromium, draws what its scripts draw and logs no CSP violation to the console."""

import os
import subprocess
import sys

import pytest

from tests.browser.test_pages import log_in
from tests.browser.test_tracker import wait_for

BASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# path → a CSS selector that exists only once the page's own scripts have run (or None)
ANONYMOUS = {
    "/": None,
    "/dashboard/signup/": None,
    "/dashboard/login/": None,
    "/api/docs/": "#swagger-ui .swagger-ui .info",  # drawn by Swagger UI's scripts
    "/api/redoc/": "redoc .api-content",  # drawn by ReDoc's script
    "/admin/login/": None,
}
LOGGED_IN = {
    "/dashboard/": "img[src*='event_trend.png']",
    "/demo/": "#distinct-id:not(:empty)",  # filled in by the tracker
    "/api/": None,  # the browsable API
}
STAFF = {"/admin/": None, "/admin/events/eventlog/": None}


def _violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def _visit(driver, url: str, drawn: str | None) -> list[str]:
    driver.get_log("browser")  # forget what earlier pages logged
    driver.get(url)
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
    if drawn is not None:
        wait_for(lambda: driver.find_elements("css selector", drawn), timeout=20)
    return _violations(driver)


@pytest.fixture
def staff(service, service_dir) -> dict:
    """A platform administrator in the service's database."""
    account = {"username": f"root-{os.getpid()}", "password": "alpine12x-root"}
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "test",
        "DATABASE_URL": f"sqlite:///{service_dir / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{service_dir / 'pii.sqlite3'}",
        "DJANGO_SUPERUSER_USERNAME": account["username"],
        "DJANGO_SUPERUSER_PASSWORD": account["password"],
        "DJANGO_SUPERUSER_EMAIL": "root@example.com",
    }
    subprocess.run(  # this interpreter, the project's manage.py
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return account


def test_pages_for_everyone_break_no_policy(driver, service):
    driver.delete_all_cookies()
    found = {path: _visit(driver, service + path, drawn) for path, drawn in ANONYMOUS.items()}

    assert found == {path: [] for path in ANONYMOUS}


def test_pages_of_a_logged_in_user_break_no_policy(driver, service, account):
    log_in(driver, service, account, "/dashboard/")
    found = {path: _visit(driver, service + path, drawn) for path, drawn in LOGGED_IN.items()}

    assert found == {path: [] for path in LOGGED_IN}


def test_admin_pages_break_no_policy(driver, service, staff):
    driver.delete_all_cookies()
    driver.get(f"{service}/admin/login/?next=/admin/")
    driver.find_element("id", "id_username").send_keys(staff["username"])
    driver.find_element("id", "id_password").send_keys(staff["password"])
    driver.find_element("css selector", "input[type=submit]").click()
    wait_for(lambda: driver.current_url.rstrip("/").endswith("/admin"))
    found = {path: _visit(driver, service + path, drawn) for path, drawn in STAFF.items()}

    assert found == {path: [] for path in STAFF}
