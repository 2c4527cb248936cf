##@ Monitoring

.PHONY: promtool monitoring-tools
promtool: ## Build (or reuse from the cache) promtool, from the Prometheus module (the alert rules' unit tests run it)
	@scripts/controlplane-build.sh promtool

monitoring-tools: ## Build (or reuse) Prometheus, promtool and the Prometheus Operator from their Go modules (the kind monitoring tests run them)
	@scripts/controlplane-build.sh promtool prometheus prometheus-operator

TEST_DEPS += promtool
