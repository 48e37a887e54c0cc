# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := samples/access.log
SAMPLE_SIZE ?= 20MB

.PHONY: run test lint bench clean install dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files make re-installs happen only when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

$(SAMPLE): | $(VENV)/.installed
	$(BIN)/logmr generate --format apache_combined --size $(SAMPLE_SIZE) --seed 42 --output $@

run: $(VENV)/.installed $(SAMPLE)
	$(BIN)/logmr run $(SAMPLE) --job status_codes
	$(BIN)/logmr run $(SAMPLE) --job top_paths --top 10

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check functions tests bench
	$(BIN)/mypy

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check functions tests bench
	$(BIN)/ruff format --check functions tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_status_codes.py

clean:
	rm -rf $(VENV) .logmr samples .pytest_cache .mypy_cache .ruff_cache
