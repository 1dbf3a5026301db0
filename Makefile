# The two commands a newcomer needs: `make platform-up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export CONTAINERS_CONF := $(CURDIR)/containers.conf
export PATH := $(CURDIR)/.venv/bin:$(PATH):/usr/local/go/bin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help platform-up platform-harden platform-down deps package-gap lint sanity unit plugin-units integration importer static molecule test bench build ee clean

help:
	@echo "make platform-up    deploy the whole MLflow platform into a local sandbox host"
	@echo "make platform-harden  the sandbox with TLS everywhere and least privilege (README: Security model)"
	@echo "make platform-down  remove the sandbox host"
	@echo "make test           lint, ansible-test sanity, unit tests and the Molecule scenarios on real container hosts"
	@echo "make package-gap    Debian packages installed here by hand that no script installs (a new machine lacks them)"
	@echo "make ee             build the execution environment image (execution-environment.yml); prints its name"
	@echo "make bench          retention, purge, search and re-run benchmarks on the sandbox (benchmarks/RESULTS.md)"

platform-up:
	@scripts/platform-up.sh

platform-harden:
	@scripts/platform-harden.sh

platform-down:
	@scripts/sandbox.sh down

deps:
	@scripts/bootstrap.sh

package-gap:
	@scripts/package-gap.sh

lint: deps
	ruff check plugins tests molecule benchmarks scripts
	ruff format --check plugins tests molecule benchmarks scripts
	ansible-lint --profile production

# ansible-test's sanity tests on a staged copy of the checkout, with Python 3.11 (the version the collection is tested on).
sanity: deps
	@scripts/ansible-test.sh sanity --python 3.11

# Plugin unit tests through ansible-test (its layout and isolation of modules from controller code), then the checks
# of the repository's own files and the bad-input preflight runs with plain pytest, one worker per core (they spend
# most of their time waiting on the ansible-playbook runs they start).
unit: plugin-units integration

plugin-units: deps
	@scripts/ansible-test.sh units --python 3.11

integration: deps
	pytest -q -n auto tests/integration

molecule: deps
	@scripts/molecule.sh "ha" "default" "security faults postgres"

# The built tarball as Galaxy's import checks it (galaxy-importer, in a virtualenv of its own).
importer: deps
	@scripts/galaxy-importer.sh

# Everything that needs no container host.
static: lint sanity unit importer

# Three lanes side by side, balanced by their measured length on 2 cores (the slower machine of December 2026; about
# 85 minutes each): the static checks (lint, the importer, sanity, the plugin units), then the platform on three hosts
# (database cluster, store cluster, MLflow behind the proxy) with its faults and MLflow upgrade; the integration
# tests, then the one-host platform on SeaweedFS with every playbook, AWX-shaped jobs and the destructive backup
# tests; PostgreSQL alone, then the hardened multi-host platform on MinIO, then the one-host MinIO platform's faults
# and store migration. A failure anywhere fails the run; every lane still finishes. (The static checks go first: on a
# new machine ha waits for the SeaweedFS build meanwhile.)
test: deps
	@scripts/molecule.sh "make:lint make:importer make:sanity make:plugin-units ha" "make:integration default" \
		"postgres security faults"

# Side-by-side measurements against the runbook's procedures on the sandbox (make platform-up first); not a test.
bench:
	@scripts/bench.sh

build: deps
	ansible-galaxy collection build --force --output-path .cache/dist .

# The execution environment AWX and the integration tests run the collection in; reused while nothing changed.
ee:
	@scripts/build-ee.sh

clean:
	rm -rf .cache
