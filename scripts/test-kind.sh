#!/usr/bin/env bash
# The kind tests (test/containers/kind.test.ts, test/kind) on clusters of their
# own, under a Docker engine that runs privileged containers (started here when
# none answers): kind and its node image are built here when none can be had.
# Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec scripts/docker-engine.sh run --privileged -- bash -c '
  set -euo pipefail
  kind=$(scripts/kind-cluster.sh kind)
  scripts/kind-cluster.sh kubectl >/dev/null # built once; the tests find it in the cache
  image=$(scripts/kind-cluster.sh image)
  KIND=$kind SECUREVOTE_KIND_NODE_IMAGE=$image exec vitest run test/containers/kind.test.ts test/kind "$@"' _ "$@"
