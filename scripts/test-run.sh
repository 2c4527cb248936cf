#!/usr/bin/env bash
# make test: every test file, then the kind tests when they can run here, then
# one line of totals (scripts/test-summary.mjs).
#
# The kind tests need the kind node image, whose binaries (kubelet, kubeadm,
# kube-proxy, kind, crictl, CoreDNS, ...) build in about 12 min cold on 2 cores
# (BENCHMARKS.md): with them, a cold `make test` still fits well inside CI's
# 90 min, so by default (KIND_TESTS=yes) it builds what is missing and runs
# them. KIND_TESTS=auto runs them only when every one of those binaries is
# already in the build cache (`scripts/kind-image.sh --missing` prints none);
# KIND_TESTS=no skips them. A skip is said in one line, first and again under
# the totals, with the command that runs them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=${SECUREVOTE_WORK:-$PWD/.work}
mkdir -p "$work"
rm -f "$work"/vitest*.json
# The kind test files (scripts/test-kind.sh runs them), out of the first run.
EXCLUDE=(--exclude='**/test/containers/kind.test.ts' --exclude='**/test/kind/**')

mode=${KIND_TESTS:-yes}
case $mode in
  yes) why= ;;
  no) why="KIND_TESTS=no" ;;
  auto)
    missing=$(scripts/kind-image.sh --missing | xargs)
    why=${missing:+"the kind node image's binaries are not built yet (missing: $missing)"} ;;
  *) echo "test-run: KIND_TESTS must be auto, yes or no (got '$mode')" >&2; exit 2 ;;
esac
line=
[[ -n $why ]] && line="kind tests skipped: $why; to run them: make test-kind (builds what is missing)"
[[ -n $line ]] && echo "$line"

rc=0
vitest run --reporter=default --reporter=json --outputFile.json="$work/vitest.json" \
  "${EXCLUDE[@]}" || rc=$?
if [[ -z $why ]]; then
  echo "==> the kind tests (scripts/test-kind.sh)"
  scripts/test-kind.sh --reporter=default --reporter=json --outputFile.json="$work/vitest-kind.json" || rc=$?
  line="kind tests: ran (scripts/test-kind.sh)"
fi
node scripts/test-summary.mjs "$work"/vitest*.json || rc=$?
echo "$line"
exit "$rc"
