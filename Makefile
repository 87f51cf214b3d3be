# Two commands set everything up on a fresh machine: `make db`, then `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LIFT_DB := $(BIN)/lift-db
SUPABASE := node_modules/.bin/supabase
# `make db` always resets the local server; DATABASE_URL (a real Supabase stack) is for the tests.
LOCAL := env -u DATABASE_URL

# What `make lint` checks.
PY_SOURCES := src tests scripts examples
SQL_SOURCES := supabase/migrations supabase/tests supabase/seed.sql

# `make bench SCALE=0.3`, `make bench-sweep SWEEP=0.1,0.3,1,3`
SCALE ?= 1
SWEEP ?= 0.1,0.3,1
BENCH_EXTRA := $(VENV)/.bench-extra

.PHONY: help venv pgtap cli db start stop status reset migrate lint lock snapshot test fuzz bench \
	bench-sweep bench-quick compat-list clean

help:
	@echo "make db      virtualenv, server binaries, pgTAP; start the local stack, reset it, print its URL"
	@echo "make lint    ruff, mypy --strict, sqlfluff, squawk, the migration lock and the PG 17 gate"
	@echo "make test    make lint, everything make db does, the Supabase CLI, then the whole test suite"
	@echo "make fuzz    the reliability suite with long fuzz runs (FUZZ_EXAMPLES, FUZZ_STEPS, CRASH_ROUNDS)"
	@echo "make lock    append new migrations to supabase/migrations.lock"
	@echo "make compat-list  regenerate what PostgreSQL 18 adds over 17 (the compat gate's list)"
	@echo "make snapshot  regenerate docs/schema/ (a file per object) and docs/ERD.md from the migrations"
	@echo "make bench   measure at scale SCALE (default 1) in database lift_bench; table on stdout,"
	@echo "             JSON, Markdown and PNG in bench/results/ (not part of make test)"
	@echo "make bench-sweep   the same at each scale of SWEEP (default 0.1,0.3,1): growth curves"
	@echo "make bench-quick   the benchmark at a tiny scale (make test runs it too)"
	@echo "make stop    stop the local server (data stays in .lift-db/)"
	@echo "make clean   stop the server and delete .lift-db/, .venv/ and node_modules/"

$(LIFT_DB): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(LIFT_DB)

pgtap: venv
	$(BIN)/python scripts/install_pgtap.py

$(SUPABASE): package.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

cli: $(SUPABASE)

db: venv pgtap
	$(LOCAL) $(LIFT_DB) start
	$(LOCAL) $(LIFT_DB) reset
	@$(LOCAL) $(LIFT_DB) url

start stop status migrate reset: venv
	$(LIFT_DB) $@

# squawk reads .squawk.toml and sqlfluff .sqlfluff from here; the excluded path of .squawk.toml
# can leave no file to check, which is not an error.
lint: venv
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy --strict
	$(BIN)/sqlfluff lint $(SQL_SOURCES)
	$(BIN)/squawk --no-error-on-unmatched-pattern 'supabase/migrations/*.sql'
	$(LIFT_DB) lock --check
	$(LIFT_DB) compat

lock: venv
	$(LIFT_DB) lock

# What PostgreSQL 18 has and 17 (production) lacks, from both servers' catalogs; `make lint`'s
# compat gate reads it. npm ci brings the pinned 17 binaries.
compat-list: venv cli
	$(BIN)/python -m lift_db.review.compat_catalog

# Builds on a scratch database of the local server, so the server must run (not reset).
snapshot: venv
	$(LOCAL) $(LIFT_DB) start
	$(LIFT_DB) snapshot

test: lint db cli
	$(BIN)/pytest

# The reliability suite at length; `make test` runs it with small defaults (docs/reliability.md).
FUZZ_EXAMPLES ?= 1000
FUZZ_STEPS ?= 100
CRASH_ROUNDS ?= 40
fuzz: db
	LIFT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) LIFT_FUZZ_STEPS=$(FUZZ_STEPS) \
	LIFT_CRASH_ROUNDS=$(CRASH_ROUNDS) $(BIN)/pytest tests/reliability

# The benchmark works in its own database on the local server; the dev database is left alone.
$(BENCH_EXTRA): pyproject.toml | venv
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

bench: $(BENCH_EXTRA)
	$(LOCAL) $(LIFT_DB) start
	$(LOCAL) $(BIN)/python -m lift_db.bench --scale $(SCALE)

bench-sweep: $(BENCH_EXTRA)
	$(LOCAL) $(LIFT_DB) start
	$(LOCAL) $(BIN)/python -m lift_db.bench --sweep $(SWEEP)

bench-quick: venv
	$(LOCAL) $(LIFT_DB) start
	$(LOCAL) $(BIN)/python -m lift_db.bench --quick

clean:
	-$(LIFT_DB) stop
	rm -rf .lift-db $(VENV) node_modules
