# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make run    - virtualenv, dependencies, migrations (both databases), server on
#                 http://127.0.0.1:8000 (SQLite)
#   make test   - virtualenv, dev dependencies, ruff, the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format migrate createsuperuser gunicorn bench bench-quick bench-charts clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.dev-installed tracker/node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	npm test --prefix tracker
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

# The tracker's one dev dependency (terser, to check the committed t.js is current).
tracker/node_modules/.installed: tracker/package-lock.json
	npm ci --prefix tracker --no-audit --no-fund
	touch $@

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Both databases: events in "default", personal data (people) in "pii".
migrate: $(VENV)/.runtime-installed
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --database pii --noinput

createsuperuser: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py createsuperuser

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

# API key verification and chart drawing, timed in-process on a scratch SQLite database.
bench-charts: $(VENV)/.runtime-installed
	$(BIN)/python -m bench.keys_charts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tracker/node_modules
