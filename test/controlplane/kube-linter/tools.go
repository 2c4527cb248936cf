//go:build tools

// Package tools names the kube-linter command built from this module.
package tools

import _ "golang.stackrox.io/kube-linter/cmd/kube-linter"
