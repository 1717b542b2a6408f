# The two commands of the README, and the steps they are made of.
#   make run    the product locally on the embedded default (no Google account)
#   make test   every check: lint, types, and the whole pytest suite
# Each target installs what it needs (venv, pip, npm) on first use and again
# only when the requirement files change.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
# gcloud-tasks-emulator lives in a venv of its own (it needs an older protobuf).
TASKS_EMULATOR_VENV ?= .venv-tasks-emulator

.PHONY: run test lint typecheck pytest tasks-emulator bench clean

run: $(VENV)/.run-installed
	$(PY) main.py serve --port $(PORT)

test: lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev-installed
	$(PY) -m mypy

pytest: $(VENV)/.dev-installed node_modules/.installed $(TASKS_EMULATOR_VENV)/.installed
	sh tests/browser/ensure_chromium.sh
	$(PY) -m pytest

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

tasks-emulator: $(TASKS_EMULATOR_VENV)/.installed

# No --clear: an existing venv is brought to the pins in place.
$(TASKS_EMULATOR_VENV)/.installed: requirements-tasks-emulator.txt
	$(PYTHON) -m venv $(TASKS_EMULATOR_VENV)
	$(TASKS_EMULATOR_VENV)/bin/python -m pip install --quiet -r requirements-tasks-emulator.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Every benchmark at its default size (under ten minutes on 2 cores); see docs/benchmarks.md.
bench: $(VENV)/.dev-installed
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .local test-artifacts
