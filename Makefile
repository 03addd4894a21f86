# Everything runs inside .venv, created and kept in step with pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
# Local development only: `make run` is never a production server.
DEV_ENV := DEBUG=1 ALLOWED_HOSTS=127.0.0.1,localhost

.PHONY: run test test-browser lint format migrations-check install bench loadtest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(DEV_ENV) $(BIN)/python manage.py load_dataset fixtures/ohchr-xinjiang-2022.json
	$(DEV_ENV) $(BIN)/python manage.py bootstrap_admin
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache

# Benchmark and load test against a generated SQLite database (tests/perf/); BENCH_RECOMMENDATIONS sets its
# size (default 20000; the README's figures are at 300000), LOADTEST_SECONDS the load test's length.
bench: $(STAMP)
	$(BIN)/python tests/perf/bench.py

loadtest: $(STAMP)
	$(BIN)/python tests/perf/loadtest.py
