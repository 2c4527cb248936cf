#!/usr/bin/env bash
# The kind tests under a Docker engine that runs privileged containers (started
# here when none answers): kind and its node image are built here when none
# can be had. First `make demo` from scratch (test/containers/kind.test.ts, a
# cluster of its own), then the day-two scenarios and the node's limits
# (test/kind/scenarios), which share one cluster, then the multi-node ones
# (test/kind/nodes: autoscaling, drains, chaos) on a cluster of three nodes.
# Extra arguments go to vitest; a reporter's --outputFile.json=F becomes F, F
# with -scenarios and F with -nodes before .json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec scripts/docker-engine.sh run --privileged -- bash -c '
  set -euo pipefail
  kind=$(scripts/kind-cluster.sh kind)
  scripts/kind-cluster.sh kubectl >/dev/null # built once; the tests find it in the cache
  image=$(scripts/kind-cluster.sh image)
  export KIND=$kind SECUREVOTE_KIND_NODE_IMAGE=$image
  rc=0
  # One kind cluster at a time: two at once crowd 2 cores.
  vitest run test/containers/kind.test.ts "$@" || rc=$?
  scenario_args=()
  for a in "$@"; do scenario_args+=("${a/%.json/-scenarios.json}"); done
  vitest run --config test/kind/scenarios/vitest.config.ts "${scenario_args[@]}" || rc=$?
  node_args=()
  for a in "$@"; do node_args+=("${a/%.json/-nodes.json}"); done
  vitest run --config test/kind/nodes/vitest.config.ts "${node_args[@]}" || rc=$?
  exit $rc' _ "$@"
