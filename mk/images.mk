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

# kind, for a user with kind and its node image; where none can be pulled,
# scripts/kind-cluster.sh uses the one `make kind-image` builds here (and
# our kind from the build cache when none is on PATH).
KIND ?= $(shell scripts/kind-cluster.sh kind)
KIND_CLUSTER ?= securevote
# Lazy (=): read only when a kind target runs.
IMAGE_VERSION = $(shell node -p "require('./package.json').version")
# Each component image at its own tag (charts/images.json), the operator at the project's version.
KIND_IMAGES = $(shell node -p "Object.entries(require('./charts/images.json').images).map(([n, i]) => 'securevote/' + n + ':' + i.tag).join(' ')") securevote/operator:$(IMAGE_VERSION)

.PHONY: kind-up
kind-up: images synth ## Create a kind cluster (the seed's kubelet log rotation), load the images, install the operator; then make demo runs on it
	$(DOCKER_ENGINE) up --privileged
	KIND=$(KIND) scripts/kind-cluster.sh up $(KIND_CLUSTER)
	KIND=$(KIND) scripts/kind-load.sh $(KIND_CLUSTER) $(KIND_IMAGES)
	@mkdir -p $(WORK)
	$(KIND) get kubeconfig --name $(KIND_CLUSTER) > $(WORK)/kind-$(KIND_CLUSTER).kubeconfig
	KUBECONFIG=$(WORK)/kind-$(KIND_CLUSTER).kubeconfig $(MAKE) --no-print-directory deploy
	@echo "kind cluster $(KIND_CLUSTER) is up with the operator. Next: make demo KUBECONFIG=$(WORK)/kind-$(KIND_CLUSTER).kubeconfig"

.PHONY: kind-down
kind-down: ## Delete the kind cluster kind-up created, then the dockerd it started (if any)
	$(DOCKER_ENGINE) up --privileged
	$(KIND) delete cluster --name $(KIND_CLUSTER)
	rm -f $(WORK)/kind-$(KIND_CLUSTER).kubeconfig
	$(DOCKER_ENGINE) down

.PHONY: test-kind
test-kind: images ## Run the kind tests on a cluster of their own (kind and a node image built here when none can be had)
	scripts/test-kind.sh

.PHONY: kind-test
kind-test: test-kind ## Same as test-kind
