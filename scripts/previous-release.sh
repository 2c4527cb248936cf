#!/usr/bin/env bash
# The previous release (images/previous-release: "<version> <commit>"), as it
# landed: its tree from git with its own npm packages (npm ci from its lock),
# its images built by its own scripts, its operator's install manifests
# synthesized by its own charts. The tree goes to .work/previous-release/<version>.
#   scripts/previous-release.sh version          prints the version
#   scripts/previous-release.sh images           builds its images that are missing (needs a Docker engine)
#   scripts/previous-release.sh manifests DIR    writes its install manifests to DIR
set -euo pipefail
cd "$(dirname "$0")/.."
read -r VERSION COMMIT < <(grep -v '^#' images/previous-release)
WORK=${SECUREVOTE_WORK:-$PWD/.work}
TREE=$WORK/previous-release/$VERSION
IMAGES=(postgres redis backend frontend proxy operator)
say() { echo "previous-release: $*" >&2; }

tree() {
  [ -f "$TREE/.complete" ] && return 0
  git cat-file -e "$COMMIT^{commit}" 2>/dev/null || { say "commit $COMMIT of $VERSION is not in this clone's history"; exit 1; }
  rm -rf "$TREE" && mkdir -p "$TREE"
  git archive "$COMMIT" | tar -x -C "$TREE"
  (cd "$TREE" && PATH="$TREE/node_modules/.bin:$PATH" npm ci --no-fund --no-audit --loglevel=error >/dev/null)
  touch "$TREE/.complete"
}

case ${1:-} in
  version) echo "$VERSION" ;;
  images)
    missing=()
    for n in "${IMAGES[@]}"; do docker image inspect "securevote/$n:$VERSION" >/dev/null 2>&1 || missing+=("$n"); done
    [ ${#missing[@]} -eq 0 ] && exit 0
    tree
    say "building ${missing[*]} $VERSION from $COMMIT"
    (cd "$TREE" && PATH="$TREE/node_modules/.bin:$PATH" SECUREVOTE_WORK="$TREE/.work" scripts/docker-images.sh "${missing[@]}")
    ;;
  manifests)
    [ -n "${2:-}" ] || { echo "usage: $0 manifests DIR" >&2; exit 2; }
    tree
    mkdir -p "$2"
    dir=$(realpath "$2")
    (cd "$TREE" && PATH="$TREE/node_modules/.bin:$PATH" OPERATOR_DIST="$dir" tsx charts/operator-install-main.ts >/dev/null)
    ;;
  *) echo "usage: $0 version | images | manifests DIR" >&2; exit 2 ;;
esac
