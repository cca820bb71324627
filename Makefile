# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run    - virtualenv, dependencies, migrations (both databases), server on
#                 http://127.0.0.1:8000 (SQLite)
#   make test   - virtualenv, dev dependencies, ruff, the deploy check, the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-citus chaos schema lint format deploy-check audit migrate createsuperuser gunicorn bench bench-quick bench-citus bench-charts clean

# Each phase of a long command prints a header with the time, so progress shows.
PHASE = @printf '\n== %s  (%s)\n' 
# bash with pipefail: a recipe that filters a command's output still fails with it.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

$(BIN)/python:
	$(PHASE) "creating $(VENV)" "$$(date +%T)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pip lists each package it downloads and installs (a first install takes a minute);
# the ones already there are left out.
$(VENV)/.runtime-installed: $(BIN)/python requirements.txt
	$(PHASE) "installing requirements.txt" "$$(date +%T)"
	$(BIN)/pip install --progress-bar off -r requirements.txt | sed '/^Requirement already satisfied/d'
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PHASE) "installing requirements-dev.txt" "$$(date +%T)"
	$(BIN)/pip install --progress-bar off -r requirements-dev.txt | sed '/^Requirement already satisfied/d'
	touch $@

# Local development needs no exported variable: the first `make run` (or `make migrate`)
# writes .env once, with DJANGO_DEBUG=1 and a generated secret key, which the settings
# read (variables set in the environment win). Production starts from .env.example.
ENV_FILE ?= .env
$(ENV_FILE):
	@umask 077 && printf '%s\n' \
	  "# Written once by make for local development: DEBUG on, a generated secret key." \
	  "# For docker compose or production, start from .env.example instead." \
	  "DJANGO_DEBUG=1" \
	  "DJANGO_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  > $@
	@echo "wrote $@ for local development (DJANGO_DEBUG=1, a generated DJANGO_SECRET_KEY)"

run: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev-installed tracker/node_modules/.installed
	$(PHASE) "ruff" "$$(date +%T)"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PHASE) "deploy check" "$$(date +%T)"
	$(MAKE) --no-print-directory deploy-check
	$(PHASE) "tracker tests (Node)" "$$(date +%T)"
	npm test --prefix tracker
	$(PHASE) "test suite (pytest, in parallel)" "$$(date +%T)"
	$(BIN)/pytest -n auto -m "not chaos and not schema" $(PYTEST_ARGS)
	$(PHASE) "Schemathesis (make schema)" "$$(date +%T)"
	$(MAKE) --no-print-directory schema
	@if [ -z "$$DATABASE_URL" ]; then printf '\n== chaos test (make chaos)  (%s)\n' "$$(date +%T)"; \
	$(MAKE) --no-print-directory chaos; \
	else echo "chaos test: not in this pass (DATABASE_URL is set); it runs in the pass without it"; fi
	$(PHASE) "done" "$$(date +%T)"

# The suite on Citus (distributed PostgreSQL, sharded by tenant): CITUS_URL and
# CITUS_PII_URL name databases on a Citus coordinator with its workers registered (README,
# "Sharding with Citus"); conftest.py makes the test databases on every node, and migrate
# distributes their tables. Left out, with the reason: `migrates_backwards` (Citus cannot
# turn a distributed table with an identity column back into a local one) and the chaos
# test (it crashes a PostgreSQL cluster of its own; it runs in the SQLite pass).
CITUS_URL ?= postgres://postgres@127.0.0.1:55432/eventtracker
CITUS_PII_URL ?= postgres://postgres@127.0.0.1:55432/eventtracker_pii
test-citus: $(VENV)/.dev-installed
	$(PHASE) "test suite on Citus (pytest, in parallel)" "$$(date +%T)"
	DATABASE_URL=$(CITUS_URL) PII_DATABASE_URL=$(CITUS_PII_URL) \
		$(BIN)/pytest -n auto --reuse-db -m "not chaos and not schema and not migrates_backwards" $(PYTEST_ARGS)
	$(PHASE) "Schemathesis on Citus" "$$(date +%T)"
	DATABASE_URL=$(CITUS_URL) PII_DATABASE_URL=$(CITUS_PII_URL) $(MAKE) --no-print-directory schema

# Schemathesis against our OpenAPI schema on a live gunicorn (tests/schema), on the
# database DATABASE_URL names (a scratch database on that PostgreSQL server), with a
# token and each API key role. Its five runs take two workers about a minute and a half.
schema: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2 -m schema $(SCHEMA_ARGS)

# The chaos test (tests/chaos, bench/chaos.py): gunicorn under load with worker kill -9s
# and a PostgreSQL crash, on its own PostgreSQL cluster and SQLite file whatever
# DATABASE_URL says. So `make test` runs it once, in the pass without DATABASE_URL (CI
# runs make test twice), after the parallel suite. About 40 s.
chaos: $(VENV)/.dev-installed
	$(BIN)/pytest -m chaos $(CHAOS_ARGS)

# The tracker's one dev dependency (terser, to check the committed t.js is current).
tracker/node_modules/.installed: tracker/package-lock.json
	$(PHASE) "installing the tracker's Node dev dependency" "$$(date +%T)"
	npm ci --prefix tracker --no-audit --no-fund
	touch $@

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Django's deployment checklist on the production profile, with a throwaway strong key:
# any warning fails (security settings, and drf-spectacular's schema check).
deploy-check: $(VENV)/.runtime-installed
	DJANGO_DEBUG=0 DJANGO_SETTINGS_PROFILE=production DJANGO_ALLOWED_HOSTS=example.com \
	TRUSTED_PROXIES=127.0.0.1/32 DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# Known vulnerabilities in the pinned dependencies and everything they pull in, from PyPI's
# advisory data. --strict: a package that could not be checked fails the audit instead of
# being skipped. .ci/run passes AUDIT_STRICT= (see there).
AUDIT_STRICT ?= --strict
audit: $(VENV)/.dev-installed
	$(BIN)/pip-audit --vulnerability-service pypi --progress-spinner off $(AUDIT_STRICT) \
		-r requirements.txt -r requirements-dev.txt

# Both databases: events in "default", personal data (people) in "pii". They run as the
# settings say (the environment, else .env): a deployment that exports its own
# DJANGO_SECRET_KEY gets no development .env written, and DEBUG is never switched on here.
DEV_ENV_FILE = $(if $(DJANGO_SECRET_KEY),,$(ENV_FILE))
migrate: $(VENV)/.runtime-installed $(DEV_ENV_FILE)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py migrate --database pii --noinput

createsuperuser: migrate
	$(BIN)/python manage.py createsuperuser

gunicorn: $(VENV)/.runtime-installed
	$(BIN)/gunicorn -c gunicorn.conf.py

# Benchmark on the local PostgreSQL (127.0.0.1:5432, user postgres): drops and recreates
# the database eventtracker_bench, loads events, drives gunicorn on 127.0.0.1, prints one
# table and writes bench/results/<timestamp>.md and .json. See bench/README.md.
BENCH_EVENTS ?= 10000000
BENCH_ARGS ?=

bench: $(VENV)/.runtime-installed
	$(BIN)/python -m bench --events $(BENCH_EVENTS) $(BENCH_ARGS)

bench-quick: $(VENV)/.runtime-installed
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

# The same bench on the local PostgreSQL and on each Citus coordinator of CITUS_BENCH_URLS
# (a database there with its workers registered), BENCH_EVENTS events over BENCH_TENANTS
# tenants, one comparison table in bench/results/<timestamp>-citus.md (bench/citus.py).
CITUS_BENCH_URLS ?= $(CITUS_URL)
BENCH_TENANTS ?= 100
bench-citus: $(VENV)/.runtime-installed
	$(BIN)/python -m bench.citus $(foreach url,$(CITUS_BENCH_URLS),--coordinator $(url)) \
		--events $(BENCH_EVENTS) --tenants $(BENCH_TENANTS) $(BENCH_CITUS_ARGS)

# API key verification and chart drawing, timed in-process on a scratch SQLite database.
bench-charts: $(VENV)/.runtime-installed
	$(BIN)/python -m bench.keys_charts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tracker/node_modules
