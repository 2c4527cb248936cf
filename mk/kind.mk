##@ kind

.PHONY: kind-image
kind-image: ## Build the kind node image here, nothing pulled (Go modules + Debian; cached by version, each step timed)
	$(DOCKER_ENGINE) run -- scripts/kind-image.sh
