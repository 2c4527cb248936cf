#!/usr/bin/env bash
# Builds the control-plane binaries from their Go modules into a cache keyed by
# version, and reuses them: whatever the cache or KUBEBUILDER_ASSETS already
# holds is never rebuilt. The versions come from the wrapper modules' go.mod
# files in test/controlplane/ (the one source of truth).
#
#   scripts/controlplane-build.sh                 # the default set (below)
#   scripts/controlplane-build.sh kubelet kubeadm # any named binaries
#   scripts/controlplane-build.sh --path NAME     # print where NAME lives (no build)
#   scripts/controlplane-build.sh --source NAME   # print NAME's module source (downloaded once; the
#                                                 # Prometheus Operator's CRDs are in its example/)
#
# Environment: SECUREVOTE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/securevote),
# SECUREVOTE_GOCACHE / SECUREVOTE_GOMODCACHE (default inside the cache, shared by
# every module built here), KUBEBUILDER_ASSETS (envtest binaries, used first),
# GOPROXY (go's own; left as the user has it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mods="$root/test/controlplane"
cache="${SECUREVOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/securevote}"

DEFAULT_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kube-score)

# The version a wrapper module requires of a module: `require <mod> <version>`.
required() { # <go.mod> <module>
  [[ -f "$1" ]] || return 0
  awk -v m="$2" '($1 == "require" && $2 == m) || ($1 == m && $2 ~ /^v/) { print ($1 == "require" ? $3 : $2); exit }' "$1"
}

k8s_version=$(required "$mods/go.mod" k8s.io/kubernetes)
etcd_version=$(required "$mods/etcd/go.mod" go.etcd.io/etcd/server/v3)
kwok_version=$(required "$mods/kwok/go.mod" sigs.k8s.io/kwok)
score_version=$(required "$mods/kube-score/go.mod" github.com/zegl/kube-score)
# The kind node image's own commands (images/kind-node/go/*: one wrapper module each).
kmods="$root/images/kind-node/go"
kind_version=$(required "$kmods/kind/go.mod" sigs.k8s.io/kind)
crictl_version=$(required "$kmods/cri-tools/go.mod" sigs.k8s.io/cri-tools)
coredns_version=$(required "$kmods/coredns/go.mod" github.com/coredns/coredns)
lpp_version=$(required "$kmods/local-path-provisioner/go.mod" github.com/rancher/local-path-provisioner)
kube_router_version=$(required "$kmods/kube-router/go.mod" github.com/cloudnativelabs/kube-router/v2)
metrics_server_version=$(required "$kmods/metrics-server/go.mod" sigs.k8s.io/metrics-server)
# The exporters image's commands (images/exporters/go/*) and the monitoring
# stack the kind tests run (images/monitoring/go/*).
emods="$root/images/exporters/go"
pg_exporter_version=$(required "$emods/postgres-exporter/go.mod" github.com/prometheus-community/postgres_exporter)
redis_exporter_version=$(required "$emods/redis-exporter/go.mod" github.com/oliver006/redis_exporter)
nginx_exporter_version=$(required "$emods/nginx-exporter/go.mod" github.com/nginx/nginx-prometheus-exporter)
mmods="$root/images/monitoring/go"
prom_operator_version=$(required "$mmods/prometheus-operator/go.mod" github.com/prometheus-operator/prometheus-operator)
prometheus_version=$(required "$mmods/prometheus/go.mod" github.com/prometheus/prometheus)

# Per binary: wrapper module dir, main package, cache dir.
spec() { # <binary> -> sets moddir pkg dir
  case "$1" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet | kubeadm | kube-proxy)
      moddir=$mods pkg="k8s.io/kubernetes/cmd/$1" dir="$cache/kubernetes-$k8s_version" ;;
    etcd) moddir=$mods/etcd pkg=go.etcd.io/etcd/server/v3 dir="$cache/etcd-$etcd_version" ;;
    kwok) moddir=$mods/kwok pkg=sigs.k8s.io/kwok/cmd/kwok dir="$cache/kwok-$kwok_version" ;;
    kube-score) moddir=$mods/kube-score pkg=github.com/zegl/kube-score/cmd/kube-score dir="$cache/kube-score-$score_version" ;;
    kind) moddir=$kmods/kind pkg=sigs.k8s.io/kind dir="$cache/kind-$kind_version" ;;
    crictl) moddir=$kmods/cri-tools pkg=sigs.k8s.io/cri-tools/cmd/crictl dir="$cache/cri-tools-$crictl_version" ;;
    coredns) moddir=$kmods/coredns pkg=github.com/coredns/coredns dir="$cache/coredns-$coredns_version" ;;
    local-path-provisioner) moddir=$kmods/local-path-provisioner pkg=github.com/rancher/local-path-provisioner dir="$cache/local-path-provisioner-$lpp_version" ;;
    kube-router) moddir=$kmods/kube-router pkg=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router dir="$cache/kube-router-$kube_router_version" ;;
    metrics-server) moddir=$kmods/metrics-server pkg=sigs.k8s.io/metrics-server/cmd/metrics-server dir="$cache/metrics-server-$metrics_server_version" ;;
    postgres_exporter) moddir=$emods/postgres-exporter pkg=github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter dir="$cache/postgres_exporter-$pg_exporter_version" ;;
    redis_exporter) moddir=$emods/redis-exporter pkg=github.com/oliver006/redis_exporter dir="$cache/redis_exporter-$redis_exporter_version" ;;
    nginx-prometheus-exporter) moddir=$emods/nginx-exporter pkg=github.com/nginx/nginx-prometheus-exporter dir="$cache/nginx-prometheus-exporter-$nginx_exporter_version" ;;
    prometheus-operator) moddir=$mmods/prometheus-operator pkg=github.com/prometheus-operator/prometheus-operator/cmd/operator dir="$cache/prometheus-operator-$prom_operator_version" ;;
    prometheus-config-reloader) moddir=$mmods/prometheus-operator pkg=github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader dir="$cache/prometheus-operator-$prom_operator_version" ;;
    # Built from a copy of the module's source (source_copy below), not through the wrapper.
    prometheus | promtool) moddir=$mmods/prometheus pkg=./cmd/$1 dir="$cache/prometheus-$prometheus_version" ;;
    *) echo "controlplane-build: unknown binary '$1'" >&2; exit 2 ;;
  esac
}

# Where a binary is found: KUBEBUILDER_ASSETS first (envtest layout), then the cache.
found() { # <binary>
  if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/$1" ]]; then
    echo "$KUBEBUILDER_ASSETS/$1"
  elif [[ -x "$dir/$1" ]]; then
    echo "$dir/$1"
  fi
}

if [[ "${1:-}" == "--path" ]]; then
  spec "$2"; p=$(found "$2"); echo "${p:-$dir/$2}"; exit 0
fi

# Go itself: the `go` on PATH if it is new enough for every wrapper module (the
# highest `go` line), else the pinned toolchain, fetched once as the Go module
# golang.org/toolchain from the module proxy (checked against its SHA-256) into the cache.
GO_TOOLCHAIN=1.26.8
GO_TOOLCHAIN_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7 # linux-amd64
ensure_go() { # once, before the first build
  [[ -n "${go_ready:-}" ]] && return 0
  go_needed=$(awk '$1 == "go" { print $2 }' "$mods"/go.mod "$mods"/*/go.mod "$kmods"/*/go.mod "$emods"/*/go.mod "$mmods"/*/go.mod | sort -V | tail -1)
  go_have=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
  if [[ -z "$go_have" || "$(printf '%s\n' "$go_needed" "$go_have" | sort -V | head -1)" != "$go_needed" ]]; then
    goroot="$cache/go-$GO_TOOLCHAIN"
    if [[ ! -x "$goroot/bin/go" ]]; then
      [[ "$(uname -sm)" == "Linux x86_64" ]] || { echo "controlplane-build: need Go >= $go_needed on PATH (found: ${go_have:-none})" >&2; exit 1; }
      mod="golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN.linux-amd64"
      proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%[,|]*}"
      [[ "$proxy" == http* ]] || proxy=https://proxy.golang.org
      printf '==> %-24s fetching %s (Go on PATH: %s, need >= %s)\n' go "$mod" "${go_have:-none}" "$go_needed"
      mkdir -p "$cache"
      tmpd=$(mktemp -d "$cache/.go-toolchain.XXXXXX")
      curl -fsSL -o "$tmpd/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN.linux-amd64.zip"
      echo "$GO_TOOLCHAIN_SHA256  $tmpd/go.zip" | sha256sum -c --quiet
      unzip -q "$tmpd/go.zip" -d "$tmpd"
      rm -rf "$goroot"; mv "$tmpd/$mod" "$goroot"; rm -rf "$tmpd"
    fi
    export PATH="$goroot/bin:$PATH" GOROOT="$goroot"
  fi
  go_ready=1
}

export GOCACHE="${SECUREVOTE_GOCACHE:-$cache/go-build}"
export GOMODCACHE="${SECUREVOTE_GOMODCACHE:-$cache/go-mod}"
export GOFLAGS="-buildvcs=false -mod=readonly"
export GOTOOLCHAIN=local
# A module copy may carry a go.work naming directories its zip leaves out (Prometheus does).
export GOWORK=off

ldflags() { # <binary>
  local flags="-s -w"
  case "$pkg" in
    k8s.io/kubernetes/*)
      # What hack/lib/version.sh sets, so `--version` reports the real release.
      # No git commit is known from a module download; buildDate is the tag's time.
      local minor date p kv
      minor=${k8s_version#v1.}
      minor=${minor%%.*}
      date=$(cd "$mods" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
      for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        for kv in "gitVersion=$k8s_version" gitMajor=1 "gitMinor=$minor" gitTreeState=clean "buildDate=$date"; do
          flags+=" -X '$p.$kv'"
        done
      done ;;
    github.com/zegl/kube-score/*) flags+=" -X 'main.version=$score_version'" ;;
    sigs.k8s.io/cri-tools/*) flags+=" -X 'sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version'" ;;
    github.com/rancher/local-path-provisioner) flags+=" -X 'main.VERSION=$lpp_version'" ;;
    github.com/cloudnativelabs/kube-router/*) flags+=" -X 'github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kube_router_version'" ;;
    github.com/prometheus-community/*) flags+=" -X 'github.com/prometheus/common/version.Version=${pg_exporter_version#v}'" ;;
    github.com/oliver006/*) flags+=" -X 'main.BuildVersion=${redis_exporter_version#v}'" ;;
    github.com/nginx/*) flags+=" -X 'github.com/prometheus/common/version.Version=${nginx_exporter_version#v}'" ;;
    github.com/prometheus-operator/*) flags+=" -X 'github.com/prometheus/common/version.Version=${prom_operator_version#v}'" ;;
    ./cmd/*) flags+=" -X 'github.com/prometheus/common/version.Version=$(cat "$moddir/VERSION")'" ;;
  esac
  echo "$flags"
}

# A writable copy of a module's source, to build as the main module (its own
# replace and exclude directives apply there, as they never do to a dependency):
# downloaded through the wrapper module, whose go.sum checks it.
source_copy() { # <wrapper dir> <module> -> prints the copy's directory
  local src dst
  src=$(cd "$1" && go mod download -json "$2" | awk -F'"' '$2 == "Dir" { print $4 }')
  dst="$cache/src/$(basename "$src")"
  if [[ ! -f $dst/go.mod ]]; then
    rm -rf "$dst.tmp" && mkdir -p "$cache/src" && cp -r "$src" "$dst.tmp" && chmod -R u+w "$dst.tmp" && mv "$dst.tmp" "$dst"
  fi
  echo "$dst"
}

if [[ "${1:-}" == "--source" ]]; then
  spec "$2"; ensure_go >&2
  case "$2" in
    prometheus-operator) module=github.com/prometheus-operator/prometheus-operator ;;
    prometheus | promtool) module=github.com/prometheus/prometheus ;;
    *) echo "controlplane-build: --source knows prometheus-operator, prometheus, promtool" >&2; exit 2 ;;
  esac
  (cd "$moddir" && go mod download -json "$module" | awk -F'"' '$2 == "Dir" { print $4 }')
  exit 0
fi

if ((!$#)); then set -- "${DEFAULT_BINARIES[@]}"; fi
total_start=$SECONDS
for bin in "$@"; do
  spec "$bin"
  have=$(found "$bin")
  if [[ -n "$have" ]]; then
    printf '==> %-24s cached   %s\n' "$bin" "$have"
    continue
  fi
  start=$SECONDS
  ensure_go
  printf '==> %-24s building %s (%s) into %s\n' "$bin" "$pkg" "$(basename "$dir")" "$dir"
  mkdir -p "$dir"
  [[ $pkg == ./cmd/* ]] && moddir=$(source_copy "$moddir" github.com/prometheus/prometheus)
  # Build to a temporary name and rename, so an interrupted build never looks cached.
  tmp="$dir/.$bin.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  tags=
  # Prometheus with one service discovery, Kubernetes' (the Prometheus Operator configures nothing else): a third of the build.
  [[ $pkg == ./cmd/* ]] && tags=remove_all_sd,enable_kubernetes_sd
  (cd "$moddir" && CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "$(ldflags "$bin")" -o "$tmp" "$pkg")
  mv "$tmp" "$dir/$bin"
  trap - EXIT
  printf '==> %-24s built    in %ds\n' "$bin" $((SECONDS - start))
done
printf '==> control plane ready in %ds (cache %s)\n' $((SECONDS - total_start)) "$cache"
