##@ Monitoring

.PHONY: promtool
promtool: ## Build (or reuse from the cache) promtool, from the Prometheus module (the alert rules' unit tests run it)
	@scripts/controlplane-build.sh promtool

TEST_DEPS += promtool
