# The everyday commands. Run them with the virtualenv active (README: "Getting started");
# CONTRIBUTING.md says when to use which.

PYTEST ?= pytest
# The suite on PostgreSQL creates test_<name> beside this database (one per worker).
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/watchfloor
# The benches measure both backends unless told otherwise: make bench BACKENDS=sqlite
BACKENDS ?= sqlite,postgres

.PHONY: help test test-fast test-postgres lint format types imports check bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

test: ## the whole suite on SQLite, in parallel (the README's test command)
	$(PYTEST)

test-fast: ## the suite without the slow tests (browser, schemathesis)
	$(PYTEST) -m "not slow"

test-postgres: ## the whole suite on PostgreSQL (POSTGRES_URL)
	DATABASE_URL=$(POSTGRES_URL) $(PYTEST) --create-db

lint: ## ruff: lint and formatting, changing nothing
	ruff check .
	ruff format --check .

format: ## ruff: fix what can be fixed and format
	ruff check --fix .
	ruff format .

types: ## mypy over the package (settings in pyproject.toml)
	mypy

imports: ## the import contracts of docs/architecture.md
	lint-imports

check: lint imports types test ## everything above, as before a push

bench: ## the queue, intake and war-room benches (BACKENDS=sqlite,postgres)
	python bench/queue.py --backends $(BACKENDS)
	python bench/intake.py --backends $(BACKENDS)
	python bench/warroom.py --backends $(BACKENDS)
