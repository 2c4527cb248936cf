//go:build tools

// Package tools names the command scripts/controlplane-build.sh builds from
// this module, so `go mod tidy` keeps its dependencies.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
