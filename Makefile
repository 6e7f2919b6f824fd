# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium

.PHONY: lint demo test test-sqlite test-mysql venv chromium freeradius mariadb-client bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's Chromium; install it when missing (never `playwright install`).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "NOTE: apt-get install chromium is impossible here; the browser tests will be skipped"; \
	fi

# The RADIUS tests run a private copy of Debian's FreeRADIUS 3.2 (never the system service); install it when missing.
freeradius:
	@if [ ! -x /usr/sbin/freeradius ] || [ ! -e /usr/lib/freeradius/rlm_sql_mysql.so ] || ! command -v radclient >/dev/null; then \
	  echo "installing Debian freeradius for the RADIUS tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq freeradius freeradius-mysql freeradius-utils >/dev/null) \
	  || echo "NOTE: apt-get install freeradius is impossible here; the FreeRADIUS tests will be skipped by name"; \
	fi

# Backups on MariaDB use mysqldump and mysql (Debian's mariadb-client); needed by the MariaDB profile's backup tests.
mariadb-client:
	@if [ -n "$$TEST_DATABASE_URL" ] && { ! command -v mysqldump >/dev/null || ! command -v mysql >/dev/null; }; then \
	  echo "installing Debian mariadb-client for the backup tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-client >/dev/null) \
	  || echo "NOTE: apt-get install mariadb-client is impossible here; the MariaDB backup tests will fail"; \
	fi

# RADIUS=1 adds a private FreeRADIUS and a radius-mode simulated router (when freeradius is installed).
demo: venv
	ISP_DEMO_RADIUS=$(RADIUS) ./bin/demo

# SQLite + fakeredis always (with the simulator's own tests); MariaDB + real Redis too when TEST_DATABASE_URL/TEST_REDIS_URL
# are set (.ci/run sets them). The two profiles share nothing (own database and Redis, free ports, numbered temp
# dirs), so they run side by side, one per core; each profile's output is printed whole when it ends.
test: venv chromium freeradius mariadb-client lint
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-mysql; \
	 else $(MAKE) --no-print-directory test-sqlite; echo "TEST_DATABASE_URL not set: MariaDB profile not run (.ci/run runs it)"; fi

lint: venv
	$(BIN)/ruff check .

test-sqlite:
	@echo "== profile: SQLite + fakeredis =="
	env -u TEST_DATABASE_URL -u TEST_RADIUS_DATABASE_URL -u TEST_REDIS_URL $(BIN)/pytest -q $(PYTEST_ARGS)

test-mysql:
	@echo "== profile: $$(echo $$TEST_DATABASE_URL | sed -E 's#//[^@]*@#//***@#') + $${TEST_REDIS_URL:-fakeredis} =="
	$(BIN)/pytest -q tests $(PYTEST_ARGS)

bench: venv
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
