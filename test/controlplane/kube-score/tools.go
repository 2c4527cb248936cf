//go:build tools

// Package tools names the kube-score command built from this module.
package tools

import _ "github.com/zegl/kube-score/cmd/kube-score"
