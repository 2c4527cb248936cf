// Pins Prometheus (cmd/prometheus, cmd/promtool) at v0.316.0, i.e. 3.16.0 (its
// Go module tags are v0.3XX.Y for 3.XX.Y). Prometheus is not built through this
// module: a dependency's exclude and replace directives are ignored, so
// scripts/controlplane-build.sh builds from a copy of its module source, as the
// main module (prometheus#9958). This file names the version and go.sum checks
// the download. Hand-kept: `go mod tidy` would drop the unused requirement.
module securevote.local/monitoring/prometheus

go 1.26.7

require github.com/prometheus/prometheus v0.316.0
