# kai-labs: `make help` lists the targets. Everything installs into .venv from
# this project's own files (pyproject.toml, with the versions pinned in constraints.txt);
# nothing global is touched except Debian's chromium for the browser tests (`make test`
# and `make browser-deps` install it where apt-get runs as root or with password-less sudo).
#
# Offline (a classroom without internet): `make wheelhouse` on a machine with internet,
# copy the folder, then `make lab WHEELHOUSE=path/to/wheelhouse` installs from it alone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
LESSON ?= lessons/01-pod-ips-are-not-an-interface.ipynb
WHEELHOUSE ?=
# the Pythons besides $(PYTHON) that `make test-pythons` tests on (README promises 3.10-3.13)
PYTHONS ?= 3.10 3.12 3.13

# a .venv whose Python no longer runs (a removed or unreadable pyenv version) is made again
ifneq ($(wildcard $(STAMP)),)
ifneq ($(shell $(BIN)/python -c 'print(1)' 2>/dev/null),1)
$(shell rm -f $(STAMP))
endif
endif

PIP_FROM := $(if $(WHEELHOUSE),--no-index --find-links $(WHEELHOUSE),)
INSTALL   = $(1)/python -m pip install --quiet --disable-pip-version-check $(PIP_FROM) -c constraints.txt

.DEFAULT_GOAL := help
.PHONY: help venv lab test quick lint unit cluster-tests test-pythons browser-deps browser-tests bench wheelhouse \
	clean cluster-up cluster-down

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

# Re-installs only when what is installed changes (pyproject.toml, constraints.txt): an edit to a
# notebook or README does not. A broken .venv (its Python gone or unreadable) is made again.
$(STAMP): pyproject.toml constraints.txt
	@sh scripts/make-venv.sh "$(PYTHON)" "$(VENV)"
	$(call INSTALL,$(BIN)) -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install kai-labs with everything it needs (kubectl included)

lab: $(STAMP) ## set up, start the embedded cluster and open JupyterLab on lesson 1
	$(BIN)/python -m kai_labs.notebooks install-lab-settings
	$(BIN)/kai-labs cluster up
	@echo "JupyterLab stops with Ctrl-C; the cluster keeps running until: $(BIN)/kai-labs cluster down"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root,) \
		--ServerApp.root_dir="$(CURDIR)" "$(LESSON)"

test: $(STAMP) lint ## set up (chromium, nft and iptables too, where it can), lint, and run the whole test suite
	@sh scripts/install-browser-deps.sh || echo "make test: could not install chromium here, so the browser tests will skip (see scripts/install-browser-deps.sh)"
	@sh scripts/install-kernel-tools.sh || echo "make test: could not install nft/iptables here, so the kernel tests will skip (see scripts/install-kernel-tools.sh)"
	@sh scripts/install-workshop-deps.sh || echo "make test: could not install JupyterHub's proxy here, so the workshop test will skip (see scripts/install-workshop-deps.sh)"
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(STAMP) ## ruff over the package, tests and benchmarks; mypy strict over the package (both pinned)
	$(BIN)/ruff check kai_labs tests benchmarks
	$(BIN)/mypy

quick: $(STAMP) ## everything but notebooks, the browser and the wheel install (under 2 minutes on 2 cores)
	$(BIN)/python -m pytest -p no:cacheprovider -q -n 3 --dist loadfile \
		-m "not notebooks and not browser and not install and not kind and not workshop" --ignore=tests/browser \
		--ignore=tests/notebooks --ignore=tests/workshop

unit: $(STAMP) ## fast unit tests only
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit -q

test-pythons: ## unit and cluster tests and lesson 01 on Python 3.10, 3.12 and 3.13 (a venv each)
	sh scripts/test-pythons.sh $(PYTHONS)

cluster-tests: $(STAMP) ## tests that drive the embedded cluster with kubectl and the official client
	$(BIN)/python -m pytest -p no:cacheprovider tests/cluster -q

browser-deps: ## install Debian's chromium for the browser tests (needs root or sudo)
	sh scripts/install-browser-deps.sh

browser-tests: $(STAMP) ## JupyterLab in a real browser (chromium + Playwright)
	$(BIN)/python -m pytest -p no:cacheprovider tests/browser -q

bench: $(STAMP) ## print the embedded cluster's speed, memory and reliability figures (about 15 minutes)
	$(BIN)/python benchmarks/bench_cluster.py
	$(BIN)/python benchmarks/bench_hostile.py
	$(BIN)/python benchmarks/bench_node_lifecycle.py
	$(BIN)/python benchmarks/bench_watch.py
	$(BIN)/python benchmarks/bench_storage.py
	$(BIN)/python benchmarks/bench_lifecycle.py
	$(BIN)/python benchmarks/bench_reliability.py
	$(BIN)/python benchmarks/bench_grading.py

cluster-up: $(STAMP) ## start the embedded cluster in the background
	$(BIN)/kai-labs cluster up

cluster-down: $(STAMP) ## stop the embedded cluster
	$(BIN)/kai-labs cluster down

wheelhouse: $(STAMP) ## download every wheel `make lab` needs into wheelhouse/ (for a classroom without internet)
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check -c constraints.txt -w wheelhouse \
		'.[test]' 'setuptools>=77' wheel
	@echo "wheelhouse/ is ready: copy it and the course, then: make lab WHEELHOUSE=wheelhouse"

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
