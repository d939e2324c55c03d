# Two commands set up a fresh machine: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ENV := DATABASE_URL=sqlite:///demo.db KEEPPOSTED_CONFIG=examples/demo.yaml

.PHONY: demo test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	$(DEMO_ENV) $(BIN)/keepposted db upgrade
	$(DEMO_ENV) $(BIN)/keepposted demo
	$(DEMO_ENV) $(BIN)/keepposted dev

test: venv
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check bot channels flows tests bench
	$(BIN)/ruff format --check bot channels flows tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm
