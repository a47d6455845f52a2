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

# Debian packages the tests use: Chromium and its driver for the browser
# tests; nginx, HAProxy and Apache to run the generated proxy rules for real.
TEST_DEBS := chromium chromium-driver nginx-light haproxy apache2-bin
.PHONY: test-deps
test-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Install these Debian packages for the browser and proxy tests:$$missing"; fi

.PHONY: test
test: install test-deps ## Run the tests (installs the Debian packages they use when run as root)
	$(BIN)/pytest

.PHONY: lint
lint: install ## Check code style and packaging (ruff, zpretty, pyroma, check-manifest)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs
	find src -name '*.zcml' -o -name '*.xml' | grep -v '/locales/' | xargs $(BIN)/zpretty --check
	$(BIN)/pyroma -n 9 .
	$(BIN)/check-manifest

.PHONY: format
format: install ## Format the code (ruff, zpretty)
	$(BIN)/ruff check --fix src tests benchmarks docs
	$(BIN)/ruff format src tests benchmarks docs
	find src -name '*.zcml' -o -name '*.xml' | grep -v '/locales/' | xargs $(BIN)/zpretty -i

.PHONY: bench
bench: install ## Run the benchmarks (side-by-side ratios; figures on stdout)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

.PHONY: docs
docs: install ## Build the documentation site into docs/_build/html (warnings are errors)
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

.PHONY: clean
clean: ## Remove the virtualenv, the demo instance and build files
	rm -rf $(VENV) $(INSTANCE) build dist src/*.egg-info .pytest_cache docs/_build
	find . -name __pycache__ -prune -exec rm -rf {} +
