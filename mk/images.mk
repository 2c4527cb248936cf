##@ Images

DOCKER_ENGINE := scripts/docker-engine.sh

.PHONY: images
images: deps ## Build every image (debootstrap base cached by date); starts dockerd if none runs, stops only what it started
	$(DOCKER_ENGINE) run -- scripts/docker-images.sh

.PHONY: docker-up
docker-up: ## Start a Docker engine (Debian's dockerd) if none answers, and keep it running
	$(DOCKER_ENGINE) up

.PHONY: docker-down
docker-down: ## Stop the dockerd docker-up started (never someone else's engine)
	$(DOCKER_ENGINE) down

.PHONY: test-containers
test-containers: images ## Run the container tests: the five services under the seed's limits, restarts and logs
	vitest run test/containers

TEST_DEPS += images
