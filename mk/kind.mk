##@ kind

.PHONY: kind-image
kind-image: ## Build the kind node image here, nothing pulled (Go modules + Debian; cached by version, each step timed)
	$(DOCKER_ENGINE) run -- scripts/kind-image.sh

.PHONY: test-upgrade
test-upgrade: images ## The operator-upgrade scenario under load: a cluster on the previous release, upgraded to this one (outside make test: see README)
	SECUREVOTE_UPGRADE_SCENARIO=yes scripts/test-kind.sh
