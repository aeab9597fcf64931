# pgtviews.ops — developer entry points. `make demo` and `make test` are the two that matter;
# both work on a fresh Debian 12 machine as root (they install what they need).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := $(CURDIR)/.venv
PY          := $(VENV)/bin/python
CACHE       := $(CURDIR)/.cache
COLLECTIONS := $(CACHE)/collections
# ansible-test wants the collection under ansible_collections/<ns>/<name>.
BUILD_TREE  := $(CURDIR)/.build
COLL_LINK   := $(BUILD_TREE)/link/ansible_collections/pgtviews/ops
# Outside the repo: inside it, ansible-test would ask git, which ignores .build/. One per checkout,
# so that two checkouts on one machine (a clone under CI and a working tree) never share it.
SANITY_TREE := $(or $(TMPDIR),/tmp)/pgtviews-sanity-$(shell id -u)-$(shell printf %s '$(CURDIR)' | md5sum | cut -c1-8)/ansible_collections/pgtviews/ops
STANDIN_DIR := $(CURDIR)/build/standin
APT_PACKAGES := postgresql-15 postgresql-server-dev-15 postgresql-client-15 build-essential docker.io debootstrap shellcheck chromium

# Collections come from the environment only (never an ansible.cfg that molecule reads:
# see docs/development.md, "molecule can delete the source tree"). HOME-like state stays in .cache.
export ANSIBLE_COLLECTIONS_PATH := $(BUILD_TREE)/link:$(COLLECTIONS)
export ANSIBLE_HOME := $(CACHE)/ansible-home
export ANSIBLE_LOCAL_TEMP := $(CACHE)/ansible-home/tmp
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help deps venv collections tree standin lint sanity unit integration faults test demo demo-rollback demo-clean molecule bench build clean

help:
	@echo "make demo         migrate a disposable three-server local fleet in two waves (then demo-rollback, demo-clean)"
	@echo "make test         lint + sanity + unit + integration + faults + molecule (what CI runs)"
	@echo "make standin      build the pg_tviews stand-in packages into build/standin/"
	@echo "make molecule     the molecule scenarios in containers (MOLECULE_SCENARIOS=\"default fleet\" for some)"
	@echo "make faults       the fault matrix and bad inputs (tests/faults/), rendered into docs/reliability.md"
	@echo "make bench        benchmarks into bench/results/ and docs/performance.md (PGTVIEWS_BENCH_QUICK=1: < 5 min)"
	@echo "make lint|sanity|unit|integration|build|clean"

deps: $(CACHE)/apt.stamp
$(CACHE)/apt.stamp:
	@mkdir -p $(CACHE)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing apt packages: $$missing (run make deps as root)"; exit 1; fi; \
	  echo "installing apt packages: $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV)/bin/pip check
	@touch $@

collections: $(COLLECTIONS)/.stamp
$(COLLECTIONS)/.stamp: scripts/fetch-collections.sh | venv
	PIP=$(VENV)/bin/pip scripts/fetch-collections.sh $(COLLECTIONS)
	@touch $@

tree:
	@mkdir -p $(dir $(COLL_LINK))
	@ln -sfn $(CURDIR) $(COLL_LINK)

standin: deps
	tests/fixtures/pg_tviews/build-standin.sh $(STANDIN_DIR)

lint: venv collections tree
	yamllint -s .
	ansible-lint

sanity: venv collections tree
	@mkdir -p $(CACHE)/home/.ansible/test/cache
	@cp scripts/get_pip_offline.py $(CACHE)/home/.ansible/test/cache/get_pip_24_2.py
	@# ansible-test wants a real directory (it checks the physical cwd): test a copy of the files git would ship.
	@rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	@git ls-files -co --exclude-standard -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(SANITY_TREE)
	cd $(SANITY_TREE) && HOME=$(CACHE)/home ansible-test sanity --venv --python 3.11 --color no

unit: venv collections tree
	python -m pytest tests/unit -q -p no:cacheprovider

integration: deps venv collections tree standin
	PGTVIEWS_STANDIN_DIR=$(STANDIN_DIR) python -m pytest tests/integration -q -p no:cacheprovider

# The fault matrix and the bad inputs (docs/reliability.md, rendered from this run's rows).
faults: deps venv collections tree standin
	rm -rf build/faults/results
	PGTVIEWS_STANDIN_DIR=$(STANDIN_DIR) python -m pytest tests/faults -q -p no:cacheprovider -n 2
	python tests/faults/render.py

test: deps venv collections tree
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) faults
	$(MAKE) molecule

build: venv tree
	@mkdir -p build
	ansible-galaxy collection build --force --output-path build .

demo: deps venv collections tree standin
	python scripts/demo.py up
	python scripts/demo.py migrate

demo-rollback: venv tree
	python scripts/demo.py rollback

demo-clean:
	python3 scripts/demo.py clean

# Containerised scenarios (docs/molecule.md); the last step of `make test`.
molecule: deps venv collections
	VENV=$(VENV) scripts/molecule/run.sh $(MOLECULE_SCENARIOS)

# Benchmarks (issue 21; docs/performance.md), never part of `make test`: the swap's windows by size,
# the runbook done literally against our swap, fleets of 1/3/6 with one host's time by phase.
# PGTVIEWS_BENCH_QUICK=1 runs a smaller set (under 5 minutes).
bench: deps venv tree standin
	PGTVIEWS_STANDIN_DIR=$(STANDIN_DIR) python bench/swap_window.py
	PGTVIEWS_STANDIN_DIR=$(STANDIN_DIR) python bench/runbook.py
	PGTVIEWS_STANDIN_DIR=$(STANDIN_DIR) python bench/fleet.py
	python bench/render.py

clean:
	rm -rf $(BUILD_TREE) build tests/output
