# `make run` serves the demo config; `make test` runs the whole suite. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The demo's customers include a few near-duplicates (config/demo-customers.csv, imported
# idempotently), looked for once at start, so the inbox's review queue has something in it.
run: $(STAMP)
	$(BIN)/hub demo seed --if-empty --config config/hub.yaml
	$(BIN)/hub serve config/hub.yaml

# Debian packages the tests use as real peers (Chromium for browser tests).
system-deps:
	@sh scripts/system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/ingest_webform.py

clean:
	rm -rf $(VENV) data
