##@ Operator

# The operator's install manifests (CRD, namespace, RBAC, Deployment), apart
# from the stack's dist/*.yaml.
OPERATOR_DIST ?= dist/operator
# kubectl: the project's own (the pinned release, built once by `make kubectl`),
# never whatever a machine has on PATH.
OPERATOR_KUBECTL = $$(scripts/controlplane-build.sh --path kubectl)

.PHONY: operator-manifests
operator-manifests: deps ## Synthesize the operator's install manifests into dist/operator/ (cdk8s)
	OPERATOR_DIST=$(OPERATOR_DIST) tsx charts/operator-install-main.ts
	@ls $(OPERATOR_DIST) $(OPERATOR_DIST)-monitoring

.PHONY: run
run: deps ## Run the operator locally against the current KUBECONFIG (one replica, no leader election)
	LEADER_ELECT=$${LEADER_ELECT:-false} HEALTH_ADDR=$${HEALTH_ADDR:-127.0.0.1:8081} node operator/main.ts

# The namespace and Deployment name below are charts/operator-install.ts's
# OPERATOR_NAMESPACE and OPERATOR_NAME.
.PHONY: deploy
deploy: operator-manifests kubectl ## Apply the install manifests (CRD, namespace, RBAC, 2-replica Deployment) to the current context; waits until the operator is Available
	$(OPERATOR_KUBECTL) apply --server-side --field-manager=securevote-install -f $(OPERATOR_DIST)/
	$(OPERATOR_KUBECTL) wait --for=condition=Established crd/securevotes.securevote.dev --timeout=60s
	$(OPERATOR_KUBECTL) -n securevote-system wait --for=condition=Available deployment/securevote-operator --timeout=180s
	@if $(OPERATOR_KUBECTL) get crd servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com >/dev/null 2>&1; then \
	  $(OPERATOR_KUBECTL) apply --server-side --field-manager=securevote-install -f $(OPERATOR_DIST)-monitoring/; \
	else echo "deploy: the operator's ServiceMonitor and alert skipped: the cluster serves no monitoring.coreos.com/v1 (apply $(OPERATOR_DIST)-monitoring/ once it does)"; fi

.PHONY: bench-operator
bench-operator: deps controlplane ## Operator benchmark on kwok nodes: 1 / 100 / 1,000 resources to Ready, requests per resource, peak RSS
	@mkdir -p $(WORK)
	nice -n 10 node bench/operator.ts $(BENCH_OPERATOR_ARGS)

.PHONY: bench-cache
bench-cache: deps ## What the operator's cache holds per SecureVote (its Manager and informers fed 100 and 1,000 stacks by a scripted watch; seconds, no cluster)
	node --expose-gc bench/cache-memory.ts $(BENCH_CACHE_ARGS)

.PHONY: bench-ceiling
bench-ceiling: deps controlplane ## The same control plane without the operator: its children for 1,000 resources applied by a bare client (a floor for the operator's time)
	@mkdir -p $(WORK)
	nice -n 10 node bench/apiserver-ceiling.ts $(BENCH_CEILING_ARGS)
