# The two commands a newcomer needs: `make run` (the web server and the worker) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_ENV := DEBUG=true
# Where `make run` serves (ADDRESS=127.0.0.1:8001 make run beside another checkout's).
ADDRESS ?= 127.0.0.1:8000

.PHONY: run test lint typecheck venv migrate demo check clean bench messages

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "voipconfig needs Python 3.11 or newer (set PYTHON=python3.12 or similar)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# A development checkout's settings: bare `manage.py` commands then work here. Production
# sets its own environment (see .env.example) and never uses this target.
.env:
	printf '# Development settings of this checkout (make wrote it; see .env.example).\nDEBUG=true\n' > .env

venv: $(STAMP) .env

migrate: venv
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput

demo: migrate
	$(DEV_ENV) $(BIN)/python manage.py loaddemo

run: demo
	@echo
	@echo "  Admin:      http://$(ADDRESS)/admin/  (user admin, password admin)"
	@echo "              organisation staff of Demo BV: demo-admin / demo-admin-password"
	@echo "  A phone's config, fetched the way a phone does:"
	@echo "    curl --digest -u demo:demo-provisioning -A 'Yealink SIP-T54W 96.86.0.100 80:5e:c0:00:00:01' http://$(ADDRESS)/805ec0000001.cfg"
	@echo "  Jobs (Sync with RPS, large imports) run in the worker started beside it;"
	@echo "  the admin's Jobs page follows them. Ctrl-C stops both."
	@echo
	@# The worker in the background, the web server in front; whichever way the web server
	@# ends (Ctrl-C, an error), the trap stops the worker too and waits for its task.
	@trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEV_ENV) $(BIN)/python manage.py db_worker & worker=$$!; \
	$(DEV_ENV) $(BIN)/python manage.py runserver $(ADDRESS)

test: venv
	$(BIN)/python -m pytest

# The boot storm against gunicorn and PostgreSQL (see bench/boot_storm.py for options).
bench: venv
	$(BIN)/python bench/boot_storm.py --json bench-result.json

# The Dutch catalogues brought up to date with the sources, then compiled (GNU gettext's
# tools: apt-get install gettext). Translate what it adds: docs/translation.md.
messages: venv
	$(DEV_ENV) $(BIN)/python manage.py makemessages --locale nl --no-obsolete
	$(DEV_ENV) $(BIN)/python manage.py compilemessages --locale nl --ignore .venv --ignore .git

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
