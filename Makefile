# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := samples/access.log
SAMPLE_SIZE ?= 20MB

.PHONY: run test lint bench bench-quick load chromium clean install dev synth localstack-deploy \
	asl emulated

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files make re-installs happen only when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[cli]'
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

# The infrastructure tests need the cdk extra: `make test` installs it too.
$(VENV)/.installed-cdk: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,cdk]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

# The CDK CLI and asl-validator, pinned in package.json/package-lock.json
# (the CDK CLI's 2.x: the 3.0 line rejects current aws-cdk-lib templates).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: $(VENV)/.installed
dev: $(VENV)/.installed-cdk

$(SAMPLE): | $(VENV)/.installed
	$(BIN)/logmr generate --format apache_combined --size $(SAMPLE_SIZE) --seed 42 --output $@

run: $(VENV)/.installed $(SAMPLE)
	$(BIN)/logmr run $(SAMPLE) --job status_codes
	$(BIN)/logmr run $(SAMPLE) --job top_paths --top 10
	$(BIN)/logmr query $(SAMPLE) 'filter status >= 500 | stats count(*), pct(bytes, 95) by path | sort count desc | limit 5'

# Debian's chromium for the browser tests of the HTML report (tests/test_report_browser.py):
# installed once (quick when present); elsewhere those tests skip with the reason.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	|| { command -v apt-get >/dev/null 2>&1 \
	     && $(SUDO) apt-get update -qq \
	     && $(SUDO) apt-get install -y -qq --no-install-recommends chromium; } \
	|| echo "make: chromium not installed: the browser tests will skip"

# The state machine definition against the Amazon States Language schema
# (npm asl-validator; the command is package.json's "asl" script)
asl: node_modules/.package-lock.json
	npm run --silent asl

# one pytest worker per core (pytest-xdist); loadgroup keeps the emulated
# deployment's tests on one worker (one deployment, not one per worker)
test: $(VENV)/.installed-cdk chromium asl
	$(BIN)/python -m pytest -q -n auto --dist loadgroup
	$(BIN)/ruff check functions infra tests bench
	$(BIN)/ruff format --check functions infra tests bench
	$(BIN)/mypy

# The stack deployed on moto's server in the test process, and used (docs/emulated.md)
emulated: $(VENV)/.installed-cdk
	$(BIN)/python -m pytest -q -m emulated

lint: $(VENV)/.installed-cdk
	$(BIN)/ruff check functions infra tests bench
	$(BIN)/ruff format --check functions infra tests bench
	$(BIN)/mypy

# Offline: no AWS account, no metadata service, no telemetry.
CDK_ENV := AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK_FLAGS := --no-notices --no-version-reporting

synth: $(VENV)/.installed-cdk node_modules/.package-lock.json
	$(CDK_ENV) npx cdk synth $(CDK_FLAGS) -q

localstack-deploy: $(VENV)/.installed-cdk node_modules/.package-lock.json
	$(CDK_ENV) npx cdklocal bootstrap $(CDK_FLAGS)
	$(CDK_ENV) npx cdklocal deploy $(CDK_FLAGS) --require-approval never -c logmr:removalPolicy=destroy

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed

# logmr against DuckDB, Lithops, Dask and mrjob (100 MB, then 1 GB, 3 rounds
# each, on both generated shapes: simple and realistic; long: mrjob takes
# minutes), then the map task profile. bench-quick: 100 MB, one round.
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_peers.py --size 100MB
	$(BIN)/python bench/bench_peers.py
	$(BIN)/python bench/profile_task.py --size 1GB

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python bench/bench_peers.py --quick
	$(BIN)/python bench/profile_task.py --size 100MB

# 10 concurrent jobs of 4,000 events on the local engine, each checked (bench/README.md)
load: $(VENV)/.installed-dev
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .logmr samples .pytest_cache .mypy_cache .ruff_cache cdk.out node_modules
