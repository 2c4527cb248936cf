##@ Release

.PHONY: release
release: deps ## Set the project version (VERSION=x.y.z) and re-tag only the images whose build inputs changed (charts/images.json)
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z" >&2; exit 2; }
	node charts/release.ts $(VERSION)
	node charts/crd.ts
	node charts/import-crd.ts imports
	@echo "Next: review git diff (package.json, charts/images.json, crds/), refresh the dist snapshot (vitest run test/charts -u: versions moved), make images, commit."
