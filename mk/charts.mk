##@ Manifests

.PHONY: synth crds

synth: deps ## Synthesize dist/ (restricted namespace + SecureVote stack) and dist/kind/cluster.yaml, offline
	@cdk8s synth --no-check-upgrade >/dev/null
	@echo "dist/: $$(ls dist/*.k8s.yaml | wc -l) manifests, dist/kind/cluster.yaml"

crds: deps ## Regenerate crds/securevote.yaml and its typed construct imports/securevote.dev.ts from charts/spec.ts
	node charts/crd.ts
	node charts/import-crd.ts imports

.PHONY: test-charts
test-charts: deps system-deps-app ## Run the chart tests only (manifests rule by rule, CRD drift, samples, real Redis/PostgreSQL configs)
	vitest run test/charts
