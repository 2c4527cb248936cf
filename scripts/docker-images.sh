#!/usr/bin/env bash
# Builds the project's images on the debootstrap base (see images/base):
#   securevote/{node,backend,frontend,proxy,operator,postgres,redis,exporters}
# with OCI labels, niced (shared CPU). Each component image is tagged with
# its own version from charts/images.json (re-tagged by `make release` only
# when its build inputs change); the operator with package.json's version.
# The OCI version label is the image's own tag.
# An app image whose entry file isn't written yet is skipped, and said so.
# Needs a Docker engine: run it through scripts/docker-engine.sh run (make images).
#   scripts/docker-images.sh [NAME...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/node_modules/.bin:$PATH
# The classic builder: present in every docker.io, no buildx plugin needed.
export DOCKER_BUILDKIT=0
WORK=${SECUREVOTE_WORK:-$PWD/.work}
LOGS=$WORK/images
mkdir -p "$LOGS"
NPM_VERSION=10.9.9   # the npm line Node 22 bundles; only the build stages use it

VERSION=$(node -p "require('./package.json').version")
image_tag() {  # NAME: its tag in charts/images.json (the operator: the project version)
  node -p "(require('./charts/images.json').images['$1'] || {tag: '$VERSION'}).tag"
}
NODE_VERSION=$(node -p "require('./node_modules/node/package.json').version")
REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The commit's date, not "now": same sources, same labels, cached layers.
CREATED=$(git log -1 --format=%cI 2>/dev/null || echo unknown)
NICE=(nice -n 10)
say() { echo "images: $*" >&2; }

t0=$SECONDS
BASE=$(images/base/build.sh)
say "base $BASE ($((SECONDS - t0)) s)"

build() {  # NAME TAG CONTEXT DOCKERFILE [extra args]
  local name=$1 tag=$2 ctx=$3 file=$4; shift 4
  local start=$SECONDS version=${tag##*:}
  if ! "${NICE[@]}" docker build --rm --force-rm -t "$tag" -f "$file" \
      --build-arg BASE="$BASE" --build-arg NODE_IMAGE="securevote/node:$NODE_VERSION" \
      --build-arg VERSION="$version" --build-arg REVISION="$REVISION" --build-arg CREATED="$CREATED" \
      "$@" "$ctx" >"$LOGS/$name.log" 2>&1; then
    say "$name FAILED; last lines of $LOGS/$name.log:"; tail -n 25 "$LOGS/$name.log" >&2
    return 1
  fi
  local size; size=$(docker image inspect -f '{{.Size}}' "$tag")
  printf 'images: %-9s %-32s %4d MB  %4d s\n' "$name" "$tag" $((size / 1000000)) $((SECONDS - start)) >&2
}

node_image() {
  local ctx=$WORK/images/node-context
  mkdir -p "$ctx"
  cp -u node_modules/node/bin/node "$ctx/node"
  if [ ! -s "$ctx/npm.tgz" ]; then
    (cd "$ctx" && npm pack "npm@$NPM_VERSION" --silent >/dev/null && mv "npm-$NPM_VERSION.tgz" npm.tgz)
  fi
  build node "securevote/node:$NODE_VERSION" "$ctx" images/node/Dockerfile
  docker tag "securevote/node:$NODE_VERSION" securevote/node:22
}

# The production packages of package-lock.json in an npm cache inside the
# build context (.work/images/npm-offline), filled by the host's npm, which
# can reach the registry; the build stages install from it offline.
# The npm cache the build stages install from, filled once per lock file in
# the build cache and copied into the context: the same bytes in every clone,
# so Docker's layer cache holds across clones (a cache filled afresh differs
# in its index's timestamps, and the npm ci layer would run again).
npm_offline() {
  local dir=$PWD/.work/images/npm-offline stamp cached
  stamp=$(sha256sum package-lock.json | cut -c1-16)
  [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  cached="${SECUREVOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/securevote}/npm-offline/$stamp"
  if [ ! -f "$cached/.stamp" ]; then
    local tmp; tmp=$(mktemp -d)
    rm -rf "$cached" && mkdir -p "$cached"
    cp package.json package-lock.json "$tmp/"
    (cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$cached" >/dev/null)
    rm -rf "$tmp" "$cached/_logs" "$cached/_update-notifier-last-checked"
    echo "$stamp" >"$cached/.stamp"
    # One lock file's cache at a time.
    find "$(dirname "$cached")" -mindepth 1 -maxdepth 1 ! -name "$stamp" -exec rm -rf {} +
  fi
  rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && cp -a "$cached" "$dir"
  say "npm cache for the build stages: $(du -sh "$dir" | cut -f1)"
}

app_image() {  # NAME DOCKERFILE ENTRY
  if [ ! -f "$3" ]; then say "$1 skipped: $3 is not written yet"; return 0; fi
  docker image inspect "securevote/node:$NODE_VERSION" >/dev/null 2>&1 || node_image
  npm_offline
  build "$1" "securevote/$1:$(image_tag "$1")" . "$2"
}

# The operator image holds one file of ours: operator/main.ts bundled here,
# with the tree's own esbuild (images/operator/bundle.ts), then copied in.
operator_image() {
  docker image inspect "securevote/node:$NODE_VERSION" >/dev/null 2>&1 || node_image
  # Inside the build context (.dockerignore lets this one .work directory in).
  rm -rf .work/images/operator-bundle
  node images/operator/bundle.ts .work/images/operator-bundle
  build operator "securevote/operator:$(image_tag operator)" . images/operator/Dockerfile
}

# The exporters: Go binaries built on the host from their wrapper modules
# (images/exporters/go, into the version-keyed cache), copied into a context.
EXPORTERS=(postgres_exporter redis_exporter nginx-prometheus-exporter)
exporters_image() {
  local ctx=$WORK/images/exporters-context b
  "${NICE[@]}" scripts/controlplane-build.sh "${EXPORTERS[@]}" >"$LOGS/exporters-go.log" 2>&1 \
    || { say "exporters: Go build FAILED; last lines of $LOGS/exporters-go.log:"; tail -n 25 "$LOGS/exporters-go.log" >&2; return 1; }
  rm -rf "$ctx" && mkdir -p "$ctx"
  for b in "${EXPORTERS[@]}"; do cp "$(scripts/controlplane-build.sh --path "$b")" "$ctx/$b"; done
  build exporters "securevote/exporters:$(image_tag exporters)" "$ctx" images/exporters/Dockerfile
}

# The monitoring stack the kind tests run (not part of the product: built
# only when asked, `scripts/docker-images.sh monitoring`), tagged with the
# versions their wrapper modules pin; prints nothing but the image names.
MONITORING=(prometheus prometheus-operator prometheus-config-reloader)
monitoring_version() {  # BINARY: the version of its module, without the v
  local mod=prometheus-operator m=github.com/prometheus-operator/prometheus-operator
  [ "$1" = prometheus ] && mod=prometheus m=github.com/prometheus/prometheus
  if [ "$1" = prometheus ]; then cat "$(scripts/controlplane-build.sh --source prometheus)/VERSION"; return; fi
  awk -v m="$m" '$1 == "require" && $2 == m { print substr($3, 2); exit } $1 == m { print substr($2, 2); exit }' "images/monitoring/go/$mod/go.mod"
}
monitoring_images() {
  local ctx=$WORK/images/monitoring-context b
  "${NICE[@]}" scripts/controlplane-build.sh "${MONITORING[@]}" >"$LOGS/monitoring-go.log" 2>&1 \
    || { say "monitoring: Go build FAILED; last lines of $LOGS/monitoring-go.log:"; tail -n 25 "$LOGS/monitoring-go.log" >&2; return 1; }
  for b in "${MONITORING[@]}"; do
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$(scripts/controlplane-build.sh --path "$b")" "$ctx/$b"
    build "$b" "securevote/$b:$(monitoring_version "$b")" "$ctx" images/monitoring/Dockerfile --build-arg BINARY="$b"
  done
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(node postgres redis backend frontend proxy exporters operator)
rc=0
for name in "${want[@]}"; do
  case $name in
    node) node_image || rc=1 ;;
    postgres|redis) build "$name" "securevote/$name:$(image_tag "$name")" "images/$name" "images/$name/Dockerfile" || rc=1 ;;
    backend) app_image backend app/backend/Dockerfile app/backend/main.ts || rc=1 ;;
    frontend) app_image frontend app/frontend/Dockerfile app/frontend/server.ts || rc=1 ;;
    proxy) app_image proxy app/proxy/Dockerfile app/proxy/render.ts || rc=1 ;;
    exporters) exporters_image || rc=1 ;;
    monitoring) monitoring_images || rc=1 ;;
    operator) operator_image || rc=1 ;;
    *) say "unknown image $name"; rc=2 ;;
  esac
done
# Earlier builds of our images, now untagged (only ours: by the vendor label),
# and build stages untouched for a day (recent ones are the layer cache).
docker image prune -f --filter label=org.opencontainers.image.vendor=SecureVote --filter label!=securevote.build-stage=true >/dev/null
docker image prune -f --filter label=securevote.build-stage=true --filter until=24h >/dev/null
say "done in $((SECONDS - t0)) s"
exit $rc
