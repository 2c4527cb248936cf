##@ Control plane

# The local default cluster's state (certificates, etcd data, logs, kubeconfig).
CLUSTER_DIR ?= $(WORK)/cluster
# Fake (kwok) nodes of `make cluster-up`.
CLUSTER_NODES ?= 2

.PHONY: controlplane
controlplane: ## Build (or reuse from the cache) etcd, kube-apiserver, controller manager, scheduler, kubectl, kwok, kube-score
	@mkdir -p $(WORK)
	scripts/system-deps.sh controlplane
	nice -n 10 scripts/controlplane-build.sh 2>&1 | tee $(WORK)/controlplane-build.log

.PHONY: kubectl
kubectl: ## Build (or reuse from the cache) the project's kubectl only (every script and test uses it, not PATH's)
	scripts/system-deps.sh controlplane
	nice -n 10 scripts/controlplane-build.sh kubectl

.PHONY: cluster-up
cluster-up: deps controlplane ## Start the local cluster (controllers, scheduler, kwok nodes) in the background; prints KUBECONFIG=...
	node scripts/controlplane-cluster.ts up $(CLUSTER_DIR) $(CLUSTER_NODES)

.PHONY: cluster-down
cluster-down: deps ## Stop the local cluster by its pids and remove its state
	node scripts/controlplane-cluster.ts down $(CLUSTER_DIR)

.PHONY: lint-manifests
lint-manifests: controlplane synth operator-manifests ## Run kube-score over dist/ and dist/operator/ (exclusions and their reasons: test/controlplane/kube-score.yaml)
	tsx test/controlplane/kube-score.ts dist $(OPERATOR_DIST)

TEST_DEPS += controlplane
