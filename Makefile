# One command per habit. Each target installs what it needs first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev run test lint format bench

$(BIN)/briefbot: pyproject.toml scripts/install.sh
	VENV=$(VENV) scripts/install.sh
	touch $@

$(VENV)/.dev: $(BIN)/briefbot
	VENV=$(VENV) EXTRAS=dev scripts/install.sh
	touch $@

install: $(BIN)/briefbot

install-dev: $(VENV)/.dev

## Start briefbot: Slack/Discord when configured, else the terminal chat on the sample corpus.
run: install
	$(BIN)/briefbot run

## The whole test suite (real model, FAISS, SQLite and PostgreSQL), on each backend in turn.
test: install-dev
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --backend postgresql

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python benchmarks/ingest_bench.py
