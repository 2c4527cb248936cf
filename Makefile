# SecureVote: `make help` lists every verb. Everything runs on the project's
# Node 22 (the `node` devDependency), first on PATH for every recipe.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# Scratch space for local runs (data directories, pids, logs); never committed.
WORK ?= $(CURDIR)/.work
export SECUREVOTE_WORK := $(WORK)

# Each mk/*.mk adds its prerequisites of `make test` here.
TEST_DEPS :=

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: node_modules/.package-lock.json ## Install the npm packages (Node 22 included)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-fund --no-audit --loglevel=error
	@touch $@  # npm may leave it older than package.json; the stamp must say "installed"
	@node --version

.PHONY: typecheck
typecheck: deps ## Type-check every TypeScript file (strict)
	tsc -p tsconfig.json

include $(sort $(wildcard mk/*.mk))

##@ Tests

.PHONY: test
test: deps typecheck $(TEST_DEPS) ## Run every test; installs and starts what it needs, leaves nothing running (KIND_TESTS=auto|yes|no)
	scripts/test-run.sh
