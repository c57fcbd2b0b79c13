# kai-labs: `make help` lists the targets. Everything installs into .venv from
# this project's own files (pyproject.toml); nothing global is touched except
# Debian's chromium for the browser tests (`make test` and `make browser-deps`
# install it where apt-get runs as root or with password-less sudo).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
LESSON ?= lessons/01-pod-ips-are-not-an-interface.ipynb

.DEFAULT_GOAL := help
.PHONY: help venv lab test lint unit cluster-tests browser-deps browser-tests bench clean cluster-up cluster-down

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install kai-labs with everything it needs (kubectl included)

lab: $(STAMP) ## set up, start the embedded cluster and open JupyterLab on lesson 1
	$(BIN)/python -m kai_labs.notebooks install-lab-settings
	$(BIN)/kai-labs cluster up
	@echo "JupyterLab stops with Ctrl-C; the cluster keeps running until: $(BIN)/kai-labs cluster down"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,) \
		--ServerApp.root_dir="$(CURDIR)" "$(LESSON)"

test: $(STAMP) lint ## set up (chromium too, where it can), lint, and run the whole test suite
	@sh scripts/install-browser-deps.sh || echo "make test: could not install chromium here, so the browser tests will skip (see scripts/install-browser-deps.sh)"
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(STAMP) ## ruff (pinned in pyproject.toml) over the package, tests and benchmarks
	$(BIN)/ruff check kai_labs tests benchmarks

unit: $(STAMP) ## fast unit tests only
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit -q

cluster-tests: $(STAMP) ## tests that drive the embedded cluster with kubectl and the official client
	$(BIN)/python -m pytest -p no:cacheprovider tests/cluster -q

browser-deps: ## install Debian's chromium for the browser tests (needs root or sudo)
	sh scripts/install-browser-deps.sh

browser-tests: $(STAMP) ## JupyterLab in a real browser (chromium + Playwright)
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser -q

bench: $(STAMP) ## print the embedded cluster's speed, memory and reliability figures
	$(BIN)/python benchmarks/bench_cluster.py
	$(BIN)/python benchmarks/bench_reliability.py
	$(BIN)/python benchmarks/bench_grading.py

cluster-up: $(STAMP) ## start the embedded cluster in the background
	$(BIN)/kai-labs cluster up

cluster-down: $(STAMP) ## stop the embedded cluster
	$(BIN)/kai-labs cluster down

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
