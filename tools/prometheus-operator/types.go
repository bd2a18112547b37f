//go:build tools

// Package types keeps the operator's API types in this module's graph (go mod tidy drops a
// require nothing imports): scripts/build-prometheus.sh runs controller-gen over their source.
package types

import _ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
