# Everything runs inside .venv, installed from requirements.lock (exact versions with hashes). pyproject.toml
# holds the compatible ranges; `make lock` resolves them again into the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# Local development only: `make run` is never a production server.
DEV_ENV := DEBUG=1 ALLOWED_HOSTS=127.0.0.1,localhost

.PHONY: run test test-fast test-browser lint format migrations-check install lock bench loadtest clean

# The project itself is not installed (pyproject.toml has `packages = []`): manage.py, pytest and gunicorn
# run from the work tree. Hash-checking mode refuses any file whose hash is not in the lock.
$(STAMP): $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	touch $(STAMP)

install: $(STAMP)

# Re-resolve pyproject.toml's ranges (runtime and the test extra) into the lock, with every file's hash, for
# all platforms and Python >= 3.11. Versions already in the lock are kept unless a range excludes them;
# `make lock LOCK_ARGS=--upgrade` takes the newest allowed. requirements-deploy.lock is the runtime part
# alone, at the same versions, for production installs. Then `make install` and commit both files.
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock" --quiet
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_FLAGS) $(LOCK_ARGS) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) --constraint $(LOCK) -o requirements-deploy.lock
	$(BIN)/python .ci/check-lock.py

run: $(STAMP)
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(DEV_ENV) $(BIN)/python manage.py load_dataset fixtures/ohchr-xinjiang-2022.json
	$(DEV_ENV) $(BIN)/python manage.py bootstrap_admin
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Everything, browser and slow tests included (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop while developing: skips tests marked slow (> ~5 s each) and the browser tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Runs bare, as a developer would: manage.py lets this command run without secrets, with DEBUG off.
migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache

# Benchmark and load test against a generated SQLite database (tests/perf/); BENCH_RECOMMENDATIONS sets its
# size (default 20000; the README's figures are at 300000), LOADTEST_SECONDS the load test's length.
bench: $(STAMP)
	$(BIN)/python tests/perf/bench.py

loadtest: $(STAMP)
	$(BIN)/python tests/perf/loadtest.py
