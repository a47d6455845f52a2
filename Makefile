# collective.securitybp: `make start` runs a demo site, `make test` the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := constraints.txt
INSTANCE := instance
HOST ?= 127.0.0.1
PORT ?= 8080
# The demo site uses the "classic" distribution of plone.classicui.

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c $(CONSTRAINTS) --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python setup.py $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) -e ".[test,lint]"
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create the virtualenv with the pinned Plone and the add-on in development mode

.PHONY: start
start: install ## Create (first time) and run the demo instance on 127.0.0.1:8080
	$(BIN)/python scripts/demo_instance.py --dir $(INSTANCE) --host $(HOST) --port $(PORT)

.PHONY: audit
audit: install ## Audit the demo instance's site from the command line (fails only on errors)
	@$(BIN)/securitybp audit --zope-conf $(INSTANCE)/etc/zope.conf --site Plone; \
	  status=$$?; [ $$status -le 1 ] || exit $$status

# Debian's Chromium and its driver, for the browser tests.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "Install Debian's chromium and chromium-driver for the browser tests (apt-get install chromium chromium-driver)."; fi

.PHONY: test
test: install browser ## Run the tests (installs Debian's chromium for the browser tests when run as root)
	$(BIN)/pytest

.PHONY: lint
lint: install ## Check code style and packaging (ruff, zpretty, pyroma, check-manifest)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	find src -name '*.zcml' -o -name '*.xml' | grep -v '/locales/' | xargs $(BIN)/zpretty --check
	$(BIN)/pyroma -n 9 .
	$(BIN)/check-manifest

.PHONY: format
format: install ## Format the code (ruff, zpretty)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks
	find src -name '*.zcml' -o -name '*.xml' | grep -v '/locales/' | xargs $(BIN)/zpretty -i

.PHONY: bench
bench: install ## Run the benchmarks (side-by-side ratios; figures on stdout)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

.PHONY: docs
docs: install ## Regenerate README's table of checks from the registered checks
	$(BIN)/python -m collective.securitybp.docs README.rst

.PHONY: clean
clean: ## Remove the virtualenv, the demo instance and build files
	rm -rf $(VENV) $(INSTANCE) build dist src/*.egg-info .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
