#!/usr/bin/env bash
# The kind tests under a Docker engine that runs privileged containers (started
# here when none answers): kind and its node image are built here when none
# can be had. First `make demo` from scratch (test/containers/kind.test.ts, a
# cluster of its own), then the day-two scenarios (test/kind/scenarios: the
# upgrade, backups, outages, rollouts, the node's limits, monitoring) and the
# multi-node ones (test/kind/nodes: spread, drains, autoscaling, chaos), all
# on one cluster of three nodes (test/kind/vitest.config.ts).
# Extra arguments go to vitest; a reporter's --outputFile.json=F becomes F,
# then F with -scenarios before .json.
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
  vitest run --config test/kind/vitest.config.ts "${scenario_args[@]}" || rc=$?
  exit $rc' _ "$@"
