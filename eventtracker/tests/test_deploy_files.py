"""Deployment files agree with each other and with the code: compose, Dockerfile,
.env.example, gunicorn.conf.py, the entrypoint; and gunicorn really serves the app."""

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eventtracker.tests.live_server import free_port, get_until_up, live_gunicorn, stop

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# env.str("NAME", ...), env.list(\n "NAME", ...), env("NAME") in the settings source.
SETTINGS_ENV_RE = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
GUNICORN_ENV_RE = re.compile(r"""(?:environ\.get|_env_int)\(\s*["']([A-Z][A-Z0-9_]*)["']""")
COMPOSE_VAR_RE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)")


def _read(name: str) -> str:
    return (BASE_DIR / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(_read("docker-compose.yml"))


@pytest.fixture(scope="module")
def env_example_names() -> set[str]:
    """Variables assigned in .env.example, commented-out optional ones included."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", _read(".env.example"), re.MULTILINE))


def _env_file_names(service: dict) -> list[str]:
    env_file = service.get("env_file", [])
    entries = [env_file] if isinstance(env_file, str | dict) else env_file
    return [entry["path"] if isinstance(entry, dict) else entry for entry in entries]


def _environment_names(service: dict) -> set[str]:
    environment = service.get("environment", {})
    if isinstance(environment, dict):
        return set(environment)
    return {item.split("=", 1)[0] for item in environment}


def _dockerfile_exec_form(instruction: str) -> list[str]:
    """The JSON (exec form) argument list of the last CMD or ENTRYPOINT line."""
    lines = [
        line for line in _read("Dockerfile").splitlines() if line.startswith(f"{instruction} ")
    ]
    assert lines, f"Dockerfile has no {instruction}"
    return json.loads(lines[-1].removeprefix(f"{instruction} "))


def test_compose_has_web_and_postgres(compose):
    assert {"web", "postgres"} <= set(compose["services"])


def test_web_waits_for_a_healthy_postgres(compose):
    depends_on = compose["services"]["web"]["depends_on"]

    assert depends_on["postgres"]["condition"] == "service_healthy"


def test_postgres_has_a_healthcheck_and_a_named_volume(compose):
    postgres = compose["services"]["postgres"]

    assert "pg_isready" in postgres["healthcheck"]["test"]
    volume_names = {mount.split(":", 1)[0] for mount in postgres["volumes"]}
    assert volume_names & set(compose["volumes"]), "postgres data must live in a named volume"


def test_web_healthcheck_pings_without_curl(compose):
    test = compose["services"]["web"]["healthcheck"]["test"]

    assert test[:2] == ["CMD", "python"]
    assert "http://127.0.0.1:8000/health/ping" in test[-1]


def test_web_healthcheck_passes_when_allowed_hosts_name_only_the_domain(compose, tmp_path):
    """The README's production advice (.env naming only the real domain) must leave web
    healthy, or `jobs`, which waits for it, never starts."""
    command = compose["services"]["web"]["healthcheck"]["test"][-1]
    with live_gunicorn(tmp_path, workers=1, DJANGO_ALLOWED_HOSTS="events.example.com") as base:
        port = base.rsplit(":", 1)[1]
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-c", command.replace(":8000/", f":{port}/")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert result.returncode == 0, result.stderr


def test_web_gets_database_url_and_secret_key(compose, env_example_names):
    web = compose["services"]["web"]
    environment = _environment_names(web)

    assert "DATABASE_URL" in environment
    assert "@${DATABASE_HOST:-postgres}:5432/" in web["environment"]["DATABASE_URL"]
    assert "GUNICORN_BIND" in environment
    # The secret key comes from .env, whose template must offer it.
    assert ".env" in _env_file_names(web)
    assert "DJANGO_SECRET_KEY" in environment | env_example_names


def test_jobs_service_runs_the_periodic_jobs_on_the_web_databases(compose):
    services = compose["services"]
    jobs, web = services["jobs"], services["web"]

    assert jobs["build"] == web["build"]
    assert jobs["command"] == ["python", "manage.py", "run_jobs"]
    assert ".env" in _env_file_names(jobs)
    for name in ("DATABASE_URL", "PII_DATABASE_URL"):
        assert jobs["environment"][name] == web["environment"][name]
    for service in ("postgres", "postgres-pii"):
        assert jobs["depends_on"][service]["condition"] == "service_healthy"
    # web's entrypoint migrates; jobs leaves that entrypoint out and waits for web, so
    # two migrate runs never race.
    assert jobs["depends_on"]["web"]["condition"] == "service_healthy"
    assert jobs["entrypoint"] == []
    assert "restart" in jobs


def _strings(node: object) -> list[str]:
    """Every string (keys and values) in parsed YAML, so comments are not mistaken for use."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_compose_variables_are_in_env_example(compose, env_example_names):
    referenced = {name for text in _strings(compose) for name in COMPOSE_VAR_RE.findall(text)}

    assert referenced, "the compose file is expected to interpolate ${VAR:-default}"
    assert referenced - env_example_names == set()


def test_settings_variables_are_in_env_example(env_example_names):
    read_by_settings = set(SETTINGS_ENV_RE.findall(_read("eventtracker/settings.py")))

    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_ALLOWED_HOSTS"} <= read_by_settings
    assert read_by_settings - env_example_names == set()


def test_gunicorn_variables_are_in_env_example(env_example_names):
    read_by_gunicorn = set(GUNICORN_ENV_RE.findall(_read("gunicorn.conf.py")))

    assert {"GUNICORN_BIND", "GUNICORN_WORKERS"} <= read_by_gunicorn
    # DJANGO_ENV_FILE names the file itself: only the real environment can set it.
    assert read_by_gunicorn - env_example_names == {"DJANGO_ENV_FILE"}


def test_env_example_holds_no_secret():
    values = dict(
        line.split("=", 1) for line in _read(".env.example").splitlines() if line[:1].isalpha()
    )

    assert values["DJANGO_SECRET_KEY"] == ""


def test_dockerfile_runs_gunicorn_through_the_entrypoint():
    entrypoint = _dockerfile_exec_form("ENTRYPOINT")
    cmd = _dockerfile_exec_form("CMD")

    assert entrypoint == ["/app/docker/entrypoint.sh"]
    assert cmd[0] == "gunicorn"
    assert "gunicorn.conf.py" in cmd


def test_dockerfile_collects_static_with_a_build_only_key():
    dockerfile = _read("Dockerfile")

    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    # The throwaway key is set on the RUN line, never baked in with ENV.
    assert not re.search(r"^ENV\b[^\n]*DJANGO_SECRET_KEY", dockerfile, re.MULTILINE)


def test_entrypoint_migrates_then_execs():
    script = BASE_DIR / "docker" / "entrypoint.sh"
    text = script.read_text(encoding="utf-8")

    assert os.access(script, os.X_OK)
    assert text.startswith("#!/bin/sh")
    assert text.index("manage.py migrate --noinput") < text.index('exec "$@"')


@pytest.fixture(autouse=True)
def no_env_file(tmp_path, monkeypatch):
    """gunicorn.conf.py reads the env file: a developer's .env must not change these tests."""
    empty = tmp_path / "empty.env"
    empty.touch()
    monkeypatch.setenv("DJANGO_ENV_FILE", str(empty))


def test_gunicorn_conf_reads_the_env_file_the_settings_read(monkeypatch, tmp_path):
    """GUNICORN_* in .env count for `make gunicorn`, as .env.example says; the real
    environment still wins."""
    env_file = tmp_path / "custom.env"
    env_file.write_text("GUNICORN_BIND=127.0.0.1:8123\nGUNICORN_WORKERS=5\n", encoding="utf-8")
    monkeypatch.setenv("DJANGO_ENV_FILE", str(env_file))
    for name in ("GUNICORN_BIND", "GUNICORN_WORKERS"):
        monkeypatch.setenv(name, "")  # recorded, so that teardown removes what the file set
        monkeypatch.delenv(name)
    monkeypatch.setenv("GUNICORN_WORKERS", "3")

    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))

    assert conf["bind"] == ["127.0.0.1:8123"]
    assert conf["workers"] == 3


def test_gunicorn_conf_names_the_app_and_workers(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("GUNICORN_ACCESS_LOG", raising=False)

    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))

    assert conf["wsgi_app"] == "eventtracker.wsgi"
    assert isinstance(conf["workers"], int)
    assert 1 <= conf["workers"] <= 8
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["accesslog"] == "-"


def test_gunicorn_conf_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:9000")

    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))

    assert conf["workers"] == 3
    assert conf["bind"] == ["0.0.0.0:9000"]


@pytest.mark.parametrize(("value", "accesslog"), [("off", None), ("OFF", None), ("on", "-")])
def test_gunicorn_conf_turns_the_access_log_off(monkeypatch, value, accesslog):
    """The bench's hello runs without it, as issue 14 defines the baseline."""
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", value)

    assert runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))["accesslog"] == accesslog


def test_gunicorn_conf_refuses_a_bad_access_log_setting(monkeypatch):
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", "verbose")

    with pytest.raises(ValueError, match="GUNICORN_ACCESS_LOG"):
        runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))


def test_gunicorn_conf_refuses_a_bad_worker_count(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "many")

    with pytest.raises(ValueError, match="GUNICORN_WORKERS"):
        runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))


def _gunicorn(tmp_path, *app: str, path: str, **env_extra: str) -> tuple[bytes, str]:
    """(the body of GET `path`, the server's output) from gunicorn with the project's
    gunicorn.conf.py, one worker, serving `app` (none: the one the config names)."""
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process, port = _start_gunicorn(tmp_path, app, env_extra, log)
        try:
            body = get_until_up(
                f"http://127.0.0.1:{port}{path}",
                process=process,
                log_path=log_path,
                deadline_seconds=20,
            )
        finally:
            stop(process)
    return body, log_path.read_text(encoding="utf-8", errors="replace")


def _gunicorn_refusing(tmp_path, **env_extra: str) -> tuple[int | None, str]:
    """(the exit code, the output) of a gunicorn that is expected to stop by itself."""
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process, _ = _start_gunicorn(tmp_path, (), env_extra, log)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop(process)
    return process.returncode, log_path.read_text(encoding="utf-8", errors="replace")


def _start_gunicorn(tmp_path, app, env_extra, log) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    env = {
        **{name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"},
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "DJANGO_SECRET_KEY": "test",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{tmp_path / 'pii.sqlite3'}",
        **env_extra,
    }
    if app:
        env.pop("DJANGO_SETTINGS_MODULE", None)  # as the bench serves its hello
    process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [str(gunicorn), "-c", "gunicorn.conf.py", *app],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, port


def _frozen(output: str) -> int:
    """How many objects post_worker_init froze, as the worker logged it."""
    found = re.search(r"(\d+) objects kept out of the collector's reach", output)
    assert found is not None, output
    return int(found.group(1))


def test_gunicorn_serves_the_app(tmp_path):
    body, output = _gunicorn(tmp_path, path="/health/ping")

    assert json.loads(body) == "ping ok"
    assert "GET /health/ping" in output, "the access log goes to the process output"
    # post_worker_init froze what the worker loaded: Django, DRF and every view module.
    assert _frozen(output) > 100_000


def test_gunicorn_removes_the_metrics_folder_it_made(tmp_path):
    """Every start left a /tmp/eventtracker-metrics-* folder behind."""
    temp = tmp_path / "tmp"
    temp.mkdir()

    _gunicorn(tmp_path, path="/health/ping", TMPDIR=str(temp))

    assert list(temp.iterdir()) == []


def test_gunicorn_keeps_a_metrics_folder_it_was_given(tmp_path):
    given = tmp_path / "metrics"
    given.mkdir()

    _gunicorn(tmp_path, path="/health/ping", PROMETHEUS_MULTIPROC_DIR=str(given))

    assert given.is_dir()
    assert list(given.iterdir()), "the worker wrote its metric files there"


def test_gunicorn_conf_serves_another_app_too(tmp_path):
    """The bench's hello runs with the same config: no Django settings, no URLconf."""
    body, output = _gunicorn(tmp_path, "bench.hello_wsgi:application", path="/")

    assert json.loads(body) == "hello"
    assert 0 < _frozen(output) < 100_000


def test_gunicorn_refuses_to_serve_settings_a_check_refuses(tmp_path):
    """`check` (so `migrate`) refuses personal data in the events' database; a server
    started without either served on it."""
    code, output = _gunicorn_refusing(
        tmp_path, PII_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"
    )

    assert code not in (0, None)
    assert "Worker failed to boot" in output
    assert "(people.E001) PII_DATABASE_URL names the same database as DATABASE_URL." in output


def test_gunicorn_logs_a_checks_warning_as_it_starts(tmp_path):
    body, output = _gunicorn(
        tmp_path,
        path="/health/ping",
        DJANGO_SETTINGS_PROFILE="production",
        DJANGO_SECRET_KEY="a-production-key-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS="events.example.com",
        TRUSTED_PROXIES="",
    )

    assert json.loads(body) == "ping ok"
    assert "(core.W001) DJANGO_SETTINGS_PROFILE=production, but TRUSTED_PROXIES" in output


def test_runserver_logs_a_checks_warning_once(tmp_path):
    """runserver runs every check itself before it loads the WSGI app, whose
    serve_checked said each warning of the service's settings a second time."""
    port = free_port()
    log_path = tmp_path / "runserver.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_PROFILE": "production",
        "DJANGO_SECRET_KEY": "a-production-key-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_DEBUG": "0",
        "TRUSTED_PROXIES": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PII_DATABASE_URL": f"sqlite:///{tmp_path / 'pii.sqlite3'}",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            body = get_until_up(
                f"http://127.0.0.1:{port}/health/ping",
                process=process,
                log_path=log_path,
                deadline_seconds=30,
            )
        finally:
            stop(process)
    output = log_path.read_text(encoding="utf-8", errors="replace")

    assert json.loads(body) == "ping ok", "the app was loaded and answered"
    assert output.count("core.W001") == 1, output


# --- the pii database (people) ------------------------------------------------------


def test_entrypoint_migrates_the_pii_database_too():
    text = _read("docker/entrypoint.sh")

    assert text.index("manage.py migrate --database pii --noinput") < text.index('exec "$@"')


def _make_rule(target: str) -> tuple[list[str], str]:
    """(prerequisites, recipe) of a Makefile target."""
    rule = _read("Makefile").split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
    first_line, _, recipe = rule.partition("\n")
    return first_line.split(), recipe


def test_make_migrates_both_databases_and_run_migrates_first():
    _, recipe = _make_rule("migrate")

    assert "manage.py migrate --noinput" in recipe
    assert "manage.py migrate --database pii --noinput" in recipe
    assert "migrate" in _make_rule("run")[0]


def test_make_migrate_never_switches_debug_on_nor_writes_a_dev_env_for_a_deployment():
    """A deployment exporting its settings got a .env with DJANGO_DEBUG=1 and a migrate
    forced into DEBUG, which the production profile refused (and, without the profile,
    a later gunicorn served Django's debug pages)."""
    prerequisites, recipe = _make_rule("migrate")

    assert "DJANGO_DEBUG" not in recipe
    assert "DJANGO_DEBUG" not in _make_rule("createsuperuser")[1]
    assert "$(DEV_ENV_FILE)" in prerequisites
    assert "DEV_ENV_FILE = $(if $(DJANGO_SECRET_KEY),,$(ENV_FILE))" in _read("Makefile")


def test_web_gets_longer_than_gunicorns_graceful_timeout_to_stop(compose, monkeypatch):
    """Docker's default of 10 s killed requests under way when the service stopped."""
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    grace = compose["services"]["web"]["stop_grace_period"]

    assert grace.endswith("s")
    assert int(grace[:-1]) > conf["graceful_timeout"]


def test_prometheus_keeps_the_job_label_the_job_metrics_carry():
    """Renamed exported_job, the Grafana panels grouping by job saw one line for all."""
    scrape = yaml.safe_load(_read("deploy/prometheus/prometheus.yml"))["scrape_configs"][0]

    assert scrape["honor_labels"] is True


def test_compose_keeps_personal_data_on_its_own_server(compose):
    web = compose["services"]["web"]
    pii = compose["services"]["postgres-pii"]

    assert "@${PII_DATABASE_HOST:-postgres-pii}:5432/" in web["environment"]["PII_DATABASE_URL"]
    assert web["depends_on"]["postgres-pii"]["condition"] == "service_healthy"
    assert "pg_isready" in pii["healthcheck"]["test"]
    volume_names = {mount.split(":", 1)[0] for mount in pii["volumes"]}
    assert volume_names & set(compose["volumes"]), "pii data must live in a named volume"
    assert set(pii["volumes"]).isdisjoint(compose["services"]["postgres"]["volumes"])


def test_the_citus_profile_is_a_coordinator_two_workers_and_their_setup(compose):
    services = compose["services"]
    citus = {name for name, service in services.items() if "citus" in service.get("profiles", [])}
    setup = services["citus-setup"]
    script = _read("deploy/citus/setup.sh")

    assert citus == {"citus-coordinator", "citus-worker-1", "citus-worker-2", "citus-setup"}
    assert {services[name]["image"] for name in citus} == {"citusdata/citus:13.0.3"}
    assert set(setup["depends_on"]) == citus - {"citus-setup"}
    assert "./deploy/citus/setup.sh:/setup.sh:ro" in setup["volumes"]
    for worker in ("citus-worker-1", "citus-worker-2"):
        assert worker in script
    # web waits for the setup when the profile is on, and only then.
    assert services["web"]["depends_on"]["citus-setup"] == {
        "condition": "service_completed_successfully",
        "required": False,
    }


def test_image_keeps_the_pii_sqlite_file_in_the_writable_data_dir():
    assert "PII_DATABASE_URL=sqlite:////app/data/pii.sqlite3" in _read("Dockerfile")


def test_pii_database_defaults_to_its_own_sqlite_file():
    script = (
        "from django.conf import settings as s; d = s.DATABASES; "
        "print(d['pii']['ENGINE'], d['pii']['NAME'], d['default']['NAME'], "
        "d['pii']['TEST']['NAME'] != d['default']['TEST']['NAME'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "eventtracker.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/anything",
    }
    env.pop("PII_DATABASE_URL", None)
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    engine, pii_name, default_name, separate_test_files = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert pii_name == str(BASE_DIR / "pii.sqlite3")
    assert default_name == "anything"
    assert separate_test_files == "True"


# --- production settings and the audit ----------------------------------------------


def test_compose_first_try_works_on_plain_http_and_production_is_one_setting(compose):
    environment = compose["services"]["web"]["environment"]

    # dev by default (no redirect to an https nobody answers), production from .env
    assert environment["DJANGO_SETTINGS_PROFILE"] == "${DJANGO_SETTINGS_PROFILE:-dev}"
    assert "DJANGO_SETTINGS_PROFILE=production" in _read(".env.example")
    assert "runs web with production" not in _read(".env.example")


def test_grafana_needs_a_password_and_monitoring_stays_on_this_host(compose):
    grafana, prometheus = compose["services"]["grafana"], compose["services"]["prometheus"]

    password = grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert password.startswith("${GRAFANA_ADMIN_PASSWORD:?")  # compose refuses when unset
    assert "admin}" not in password
    for service in (grafana, prometheus):
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])


def test_prometheus_scrapes_with_a_token_compose_requires(compose):
    """An empty METRICS_TOKEN gave Prometheus 403 and an empty Grafana, silently."""
    services = compose["services"]
    token = services["web"]["environment"]["METRICS_TOKEN"]

    assert token.startswith("${METRICS_TOKEN:?")  # compose refuses when unset or empty
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert {"source": "metrics_token", "target": "/etc/prometheus/metrics_token"} in services[
        "prometheus"
    ]["secrets"]
    assert "credentials_file: /etc/prometheus/metrics_token" in _read(
        "deploy/prometheus/prometheus.yml"
    )
    quick_start = re.search(r"^cp \.env\.example \.env .*$", _read("README.md"), re.MULTILINE)
    assert quick_start is not None
    assert "METRICS_TOKEN" in quick_start.group()
    assert "GRAFANA_ADMIN_PASSWORD" in quick_start.group()


def test_make_test_runs_the_deploy_check_on_the_production_profile():
    _, recipe = _make_rule("deploy-check")

    assert "manage.py check --deploy --fail-level WARNING" in recipe
    assert "DJANGO_SETTINGS_PROFILE=production" in recipe
    assert "DJANGO_DEBUG=0" in recipe
    assert "secrets.token_urlsafe(50)" in recipe
    assert "deploy-check" in _make_rule("test")[1]


def test_ci_audits_the_pinned_dependencies():
    _, recipe = _make_rule("audit")

    assert "pip-audit" in recipe
    assert "-r requirements.txt -r requirements-dev.txt" in recipe
    assert re.search(r"^pip-audit==[\d.]+$", _read("requirements-dev.txt"), re.MULTILINE)
    assert re.search(r"^make audit\b", _read(".ci/run"), re.MULTILINE)


def test_compose_shares_rate_counters_through_redis(compose):
    web, redis = compose["services"]["web"], compose["services"]["redis"]

    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ping" in redis["healthcheck"]["test"]
    # Prometheus scrapes web:8000 by its service name, so that host must be allowed.
    assert web["environment"]["DJANGO_ALLOWED_HOSTS"].endswith(",web")
