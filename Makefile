# The two Quick start commands: `make run` and `make test`. Both need only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 60053

.PHONY: run serve test lint format install install-test system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements-test.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	$(BIN)/pip install --quiet --no-deps rauc-hawkbit==0.2.0
	touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed

install-test: $(VENV)/.test-installed

## run: install, migrate, create the first admin if there is none, serve on 0.0.0.0:$(PORT)
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	GOOSEBIT_PORT=$(PORT) $(BIN)/gunicorn goosebit_project.wsgi -c goosebit_project/gunicorn_conf.py

## system-deps: Debian packages the real-client tests use (SWUpdate, RAUC, squashfs, cpio)
system-deps:
	@bash .ci/system-deps

## test: install test requirements and run the whole suite (SQLite unless GOOSEBIT_DB_URI is set)
test: install-test system-deps
	$(BIN)/python -m pytest

## bench: DDI load benchmark on PostgreSQL (127.0.0.1:5432) with wrk; BENCH_ARGS="--devices 10000" etc.
bench: install
	@bash .ci/system-deps wrk
	$(BIN)/python bench/ddi_bench.py $(BENCH_ARGS)

## lint: ruff (style, imports, common bugs) and mypy (types, with the Django and DRF plugins)
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
