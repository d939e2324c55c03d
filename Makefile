# Two commands set up a fresh machine: `make demo` and `make test`. Both build .venv themselves:
# the demo installs only what the product needs, the test and lint targets add their tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 8000
DEMO_ENV := DATABASE_URL=sqlite:///demo.db KEEPPOSTED_CONFIG=examples/demo.yaml
CODE := bot channels flows templates tests bench

.PHONY: demo test test-quick test-scale test-wheel bench-smoke lint venv clean

venv: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $@ $(APP_STAMP)

demo: $(APP_STAMP)
	$(DEMO_ENV) $(BIN)/keepposted db upgrade
	$(DEMO_ENV) $(BIN)/keepposted demo
	$(DEMO_ENV) $(BIN)/keepposted dev --port $(PORT)

# Every test but the full-size fault run (test-scale) and the installed-wheel journey (test-wheel),
# on every core (pytest-xdist; a file's tests stay on one worker, which shares its fixtures).
PARALLEL := -n auto --dist loadfile
test: $(DEV_STAMP)
	$(BIN)/pytest $(PARALLEL) -m "not scale and not wheel"

# The inner loop: no PostgreSQL, no browser, nothing slow.
test-quick: $(DEV_STAMP)
	$(BIN)/pytest -q $(PARALLEL) -m "not scale and not wheel and not slow and not postgres and not browser"

# The 20,000-case fault run on PostgreSQL (README, Running at scale).
test-scale: $(DEV_STAMP)
	$(BIN)/pytest -m scale

# Builds the wheel, installs it into a fresh virtual environment outside the checkout and plays
# a case through that install.
test-wheel: $(DEV_STAMP)
	$(BIN)/pytest -m wheel

# Each benchmark with --quick, so a rename cannot break one silently.
bench-smoke: $(DEV_STAMP)
	@failed=; for name in dispatch_sqlite sms_webhook webchat_poll ops dispatch sentiment input_budget answers_under_backlog drain_rate interim_lateness cpu_per_message; do \
	  echo "== python -m bench.$$name --quick"; \
	  $(BIN)/python -m bench.$$name --quick || failed="$$failed bench.$$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench-smoke FAILED:$$failed"; exit 1; fi; \
	echo "bench-smoke: every benchmark ran with --quick, all checks ok"

lint: $(DEV_STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build dist demo.db demo.db-wal demo.db-shm
