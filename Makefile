# Everything runs inside .venv, installed from requirements.lock (exact versions with hashes). pyproject.toml
# holds the compatible ranges; `make lock` resolves them again into the lock file.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# Local development only: `make run` is never a production server.
DEV_ENV := DEBUG=1 ALLOWED_HOSTS=127.0.0.1,localhost PUBLIC_SITE=1
# `make run`'s task worker: the database backend's, or RQ's when TASKS_URL=redis://… is set.
WORKER := $(if $(TASKS_URL),rqworker --with-scheduler default,db_worker --no-reload --interval 0.5)
WORKER_PID := var/dev-worker.pid

.PHONY: run test test-fast test-browser lint format migrations-check install messages lock bench loadtest clean

# The project itself is not installed (pyproject.toml has `packages = []`): manage.py, pytest and gunicorn
# run from the work tree. Hash-checking mode refuses any file whose hash is not in the lock.
$(STAMP): $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	touch $(STAMP)

# The translations (locale/*/LC_MESSAGES/django.po) are compiled here, never committed (*.mo is ignored).
install: $(STAMP) messages

messages: $(STAMP)
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

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

run: $(STAMP) messages
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(DEV_ENV) $(BIN)/python manage.py load_dataset fixtures/ohchr-xinjiang-2022.json
	$(DEV_ENV) $(BIN)/python manage.py bootstrap_admin --save var/first-admin.txt
	@# The task worker runs beside the server and stops with it (db_worker; rqworker when TASKS_URL is set). A
	@# worker left by an earlier run that did not end cleanly is stopped first, so there is always one.
	@mkdir -p var
	@pid=$$(cat $(WORKER_PID) 2>/dev/null); if [ -n "$$pid" ] && grep -qa worker /proc/$$pid/cmdline 2>/dev/null; then kill $$pid; fi
	$(DEV_ENV) $(BIN)/python manage.py $(WORKER) & echo $$! > $(WORKER_PID); \
	  trap 'if [ -f $(WORKER_PID) ]; then kill $$(cat $(WORKER_PID)) 2>/dev/null; rm -f $(WORKER_PID); fi' EXIT INT TERM; \
	  if [ -f var/first-admin.txt ]; then (sleep 3; echo; echo "==> Sign in at http://127.0.0.1:$(PORT)/ as the admin in var/first-admin.txt (delete the file once you have)"; echo) & fi; \
	  $(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Everything, browser and slow tests included (what CI runs).
test: $(STAMP) messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quick loop while developing: skips tests marked slow (> ~5 s each) and the browser tests.
test-fast: $(STAMP) messages
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
