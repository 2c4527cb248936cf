//go:build tools

// Package tools names the commands scripts/controlplane-build.sh builds from
// this module, so `go mod tidy` keeps its dependencies.
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
	_ "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader"
)
