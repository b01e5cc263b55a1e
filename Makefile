# arbloop: one entry point for setting up, testing, running and measuring.
# `make demo` and `make test` do all set-up on a fresh machine and are idempotent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-all lint contracts bench world clean-world clean

setup: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# `npm install` with the committed lock, not `npm ci`: the lock holds only the linux-x64 binary
# package of @foundry-rs/anvil (the registry here serves no other platform's), and `npm ci`
# refuses a lock without every optional platform package.
$(STAMP_NODE): package.json package-lock.json
	npm install --no-audit --no-fund --no-save --loglevel=error
	test -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
	touch $@

contracts: $(STAMP_NODE)
	node contracts/build.mjs

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/arbloop demo

world: setup
	$(VENV)/bin/arbloop world up

bench: setup
	$(PY) -m bench.run_all $(if $(QUICK),--quick)

clean-world:
	rm -rf .world

clean:
	rm -rf $(VENV) node_modules .world .cache .pytest_cache .ruff_cache .hypothesis
