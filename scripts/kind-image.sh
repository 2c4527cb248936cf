#!/usr/bin/env bash
# Builds the kind node image securevote/kind-node:<Kubernetes version> on this
# machine, with nothing pulled: the way kind's pkg/build/nodeimage does it, from
# our own builds instead of registry images.
#
#   1. binaries, from their Go modules, into the version-keyed cache
#      (scripts/controlplane-build.sh), and pause from its C source in the
#      Kubernetes module;
#   2. component images: those binaries on the project's debootstrap base,
#      named as `kubeadm config images list` prints them;
#   3. the node's base (images/kind-node/Dockerfile: systemd, containerd, runc,
#      CNI plugins from Debian; crictl, kubelet, kubeadm, kubectl; kind's base
#      files from the kind module);
#   4. the node: /kind/version, /kind/manifests/default-cni.yaml, and every
#      component image imported into containerd's k8s.io namespace, committed.
#
# Cached and reused: a binary in the cache, or an image whose
# securevote.kind.inputs label matches (versions + our build files), is never
# built again. Each step prints what it does and how long it took. Needs a
# Docker engine (make kind-image starts one). Prints the node image's name last.
#
#   scripts/kind-image.sh --missing   # the binaries not built yet, one a line (no engine needed)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$root/images/kind-node
cache="${SECUREVOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/securevote}"
work="${WORK:-$root/.work}/kind-image"
build="$root/scripts/controlplane-build.sh"
NICE=(nice -n "${SECUREVOTE_NICE:-15}")

required() { awk -v m="$2" '($1 == "require" && $2 == m) || ($1 == m && $2 ~ /^v/) { print ($1 == "require" ? $3 : $2); exit }' "$1"; }
k8s_version=$(required "$root/test/controlplane/go.mod" k8s.io/kubernetes)
kind_version=$(required "$here/go/kind/go.mod" sigs.k8s.io/kind)
NODE_IMAGE=${SECUREVOTE_KIND_NODE_IMAGE_NAME:-securevote/kind-node:$k8s_version}
CNI_IMAGE=securevote/kind-cni:$k8s_version
METRICS_SERVER_IMAGE=registry.k8s.io/metrics-server/metrics-server:$(required "$here/go/metrics-server/go.mod" sigs.k8s.io/metrics-server)

total=$SECONDS
step_start=0
step() { step_start=$SECONDS; printf '==> kind-image: %s\n' "$*" >&2; }
done_() { printf '==> kind-image: %-40s %s in %ds\n' "$1" "$2" $((SECONDS - step_start)) >&2; }

# -- 1. binaries ---------------------------------------------------------------
BINS=(kubelet kubeadm kubectl kube-proxy kube-apiserver kube-controller-manager kube-scheduler etcd kind crictl coredns local-path-provisioner kube-router metrics-server)
pause_dir=$cache/pause-$k8s_version
if [[ "${1:-}" == --missing ]]; then
  for b in "${BINS[@]}"; do [[ -x "$("$build" --path "$b")" ]] || echo "$b"; done
  [[ -x $pause_dir/pause ]] || echo pause
  exit 0
fi
step "binaries (scripts/controlplane-build.sh)"
"${NICE[@]}" "$build" "${BINS[@]}" >&2
declare -A bin
for b in "${BINS[@]}"; do bin[$b]=$("$build" --path "$b"); done
done_ binaries ready

# A module's source: the module cache the builds above filled, else a download.
modcache="${SECUREVOTE_GOMODCACHE:-$cache/go-mod}"
module_dir() { # <wrapper dir> <module> <version>
  if [[ -d "$modcache/$2@$3" ]]; then echo "$modcache/$2@$3"; return; fi
  (cd "$1" && GOFLAGS=-mod=mod GOMODCACHE="$modcache" go mod download -json "$2@$3" | awk -F'"' '$2 == "Dir" { print $4 }')
}

# pause: kubernetes/build/pause/linux/pause.c, as its Makefile compiles it.
step "pause (C source of k8s.io/kubernetes $k8s_version)"
if [[ -x $pause_dir/pause ]]; then
  done_ pause "cached $pause_dir/pause"
else
  k8s_dir=$(module_dir "$root/test/controlplane" k8s.io/kubernetes "$k8s_version")
  pause_tag=$(awk '$1 == "TAG" && $2 == "?=" { print $3 }' "$k8s_dir/build/pause/Makefile")
  mkdir -p "$pause_dir"
  "${NICE[@]}" gcc -Os -Wall -Werror -static "-DVERSION=v$pause_tag-securevote" -o "$pause_dir/.pause.tmp" "$k8s_dir/build/pause/linux/pause.c"
  mv "$pause_dir/.pause.tmp" "$pause_dir/pause"
  done_ pause "built (pause.c v$pause_tag)"
fi
bin[pause]=$pause_dir/pause

# -- 2. component images -------------------------------------------------------
step "base image (images/base/build.sh)"
BASE=$("$root/images/base/build.sh")
done_ base "$BASE"

mapfile -t required_images < <("${bin[kubeadm]}" config images list --kubernetes-version "$k8s_version")
kind_dir=$(module_dir "$here/go/kind" sigs.k8s.io/kind "$kind_version")
sandbox=$(awk -F'"' '/sandbox_image/ { print $2 }' "$kind_dir/images/base/files/etc/containerd/config.toml")
[[ " ${required_images[*]} " == *" $sandbox "* ]] || required_images+=("$sandbox")
required_images+=("$CNI_IMAGE" "$METRICS_SERVER_IMAGE")
# kind's default storage (local-path-provisioner), its manifest and image
# names from the kind module (pkg/build/nodeimage/const_storage.go).
storage_go=$kind_dir/pkg/build/nodeimage/const_storage.go
storage_image() { awk -F'"' -v c="$1" '$0 ~ "^const " c " = " { print $2 }' "$storage_go"; }
provisioner_image=$(storage_image storageProvisionerImage)
helper_image=$(storage_image storageHelperImage)
required_images+=("$provisioner_image" "$helper_image")
mkdir -p "$work"
awk '/^const defaultStorageManifest = `/ { on = 1; next } on && /^`/ { exit } on' "$storage_go" \
  | sed -e "s|\` + storageProvisionerImage + \`|$provisioner_image|g" -e "s|\` + storageHelperImage + \`|$helper_image|g" >"$work/default-storage.yaml"
grep -q "$provisioner_image" "$work/default-storage.yaml" || { echo "kind-image: no storage manifest found in $storage_go" >&2; exit 1; }

# A label that changes whenever what goes into an image does (not its base's date).
inputs() { # files... -> hash
  { printf '%s\n' "$k8s_version" "$kind_version"; cat "$@"; } | sha256sum | cut -c1-16
}
# docker build, quiet; its stderr shown without the legacy builder's notice.
dbuild() {
  local rc=0
  mkdir -p "$work"
  "${NICE[@]}" docker build -q "$@" >/dev/null 2>"$work/build.err" || rc=$?
  grep -vE 'DEPRECATED: The legacy builder|Install the buildx component|docs.docker.com/go/buildx|^[[:space:]]*$' "$work/build.err" >&2 || true
  rm -f "$work/build.err"
  return "$rc"
}
cached_image() { # tag hash
  [[ "$(docker image inspect -f '{{ index .Config.Labels "securevote.kind.inputs" }}' "$1" 2>/dev/null)" == "$2" ]]
}

component() { # image
  local image=$1 name file files=() extra=() ctx hash
  name=${image##*/}; name=${name%%:*}
  case $name in
    kube-apiserver | kube-controller-manager | kube-scheduler | etcd | local-path-provisioner | metrics-server)
      file=Dockerfile; files=("${bin[$name]}"); extra=(--build-arg "BIN=$name") ;;
    kube-proxy) file=Dockerfile.kube-proxy; files=("${bin[kube-proxy]}" "$here/components/iptables-select") ;;
    coredns) file=Dockerfile.coredns; files=("${bin[coredns]}") ;;
    pause) file=Dockerfile.pause; files=("${bin[pause]}") ;;
    kind-cni) file=Dockerfile.cni; files=("$here/components/cni-entry" "$here/components/iptables-select" "${bin[kube-router]}") ;;
    local-path-helper) file=Dockerfile.helper; files=() ;;
    *) echo "kind-image: kubeadm needs $image, which this script does not build" >&2; exit 1 ;;
  esac
  step "image $image"
  # The binaries' cache paths carry their versions; our own files count by content.
  local f own=()
  for f in "${files[@]}"; do [[ $f == "$cache"/* ]] || own+=("$f"); done
  # Paths without the cache's or the checkout's prefix: a fresh clone elsewhere hashes alike.
  local rel=("${files[@]#"$cache"}"); rel=("${rel[@]#"$root"}")
  hash=$(inputs "$here/components/$file" "${own[@]}" <(printf '%s\n' "${rel[@]}"))
  if cached_image "$image" "$hash"; then done_ "$name" cached; return 0; fi
  ctx=$work/ctx-$name
  rm -rf "$ctx"; mkdir -p "$ctx"
  ((${#files[@]})) && cp "${files[@]}" "$ctx/"
  dbuild -f "$here/components/$file" --build-arg "BASE=$BASE" "${extra[@]}" \
    --label "securevote.kind.inputs=$hash" --label "org.opencontainers.image.vendor=SecureVote" \
    -t "$image" "$ctx"
  rm -rf "$ctx"
  done_ "$name" built
}
for image in "${required_images[@]}"; do component "$image"; done

# -- 3. the node's base --------------------------------------------------------
step "node base image (images/kind-node/Dockerfile)"
# The base: what its Dockerfile installs. The node: the base, the manifests and
# every component image by content (a rebuilt component rebuilds the node only).
base_hash=$(inputs "$here/Dockerfile" "$root/scripts/docker-runc-wrapper" "$here/files/usr/local/bin/securevote-node-entrypoint")
node_hash=$(inputs <(echo "$base_hash") "$here/default-cni.yaml" "$here/metrics-server.yaml" "$work/default-storage.yaml" "$0" \
  <(for i in "${required_images[@]}"; do printf '%s %s\n' "$i" "$(docker image inspect -f '{{ .Id }}' "$i")"; done))
node_base=securevote/kind-node-base:$k8s_version
if cached_image "$NODE_IMAGE" "$node_hash"; then
  done_ node "cached $NODE_IMAGE"
  printf '==> kind-image: ready in %ds: %s\n' $((SECONDS - total)) "$NODE_IMAGE" >&2
  echo "$NODE_IMAGE"
  exit 0
fi
if cached_image "$node_base" "$base_hash"; then
  done_ node-base cached
else
  ctx=$work/ctx-node
  rm -rf "$ctx"; mkdir -p "$ctx/bin"
  cp -r "$kind_dir/images/base/files" "$ctx/kind-base"; chmod -R u+w "$ctx/kind-base"
  cp -r "$here/files" "$ctx/files"
  cp "$root/scripts/docker-runc-wrapper" "$ctx/securevote-runc"
  cp "${bin[kubelet]}" "${bin[kubeadm]}" "${bin[kubectl]}" "${bin[crictl]}" "$ctx/bin/"
  dbuild -f "$here/Dockerfile" --build-arg "BASE=$BASE" \
    --label "securevote.kind.inputs=$base_hash" -t "$node_base" "$ctx"
  rm -rf "$ctx"
  done_ node-base built
fi

# -- 4. the node ---------------------------------------------------------------
step "node image $NODE_IMAGE (images into containerd's k8s.io namespace)"
mkdir -p "$work"
id=$(docker run -d --entrypoint=sleep --security-opt seccomp=unconfined "$node_base" infinity)
trap 'docker rm -f -v "$id" >/dev/null 2>&1 || true; rm -f "$work/images.tar"' EXIT
in_node() { docker exec -i "$id" "$@"; }
echo -n "$k8s_version" | in_node sh -c 'cat > /kind/version'
sed "s|__CNI_IMAGE__|docker.io/$CNI_IMAGE|" "$here/default-cni.yaml" | in_node sh -c 'mkdir -p /kind/manifests && cat > /kind/manifests/default-cni.yaml'
in_node sh -c 'cat > /kind/manifests/default-storage.yaml' <"$work/default-storage.yaml"
sed "s|__METRICS_SERVER_IMAGE__|$METRICS_SERVER_IMAGE|" "$here/metrics-server.yaml" | in_node sh -c 'cat > /kind/manifests/metrics-server.yaml'
docker save -o "$work/images.tar" "${required_images[@]}"
in_node bash -c 'nohup containerd >/dev/null 2>&1 &'
in_node bash -c 'for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; echo "containerd did not start" >&2; exit 1'
# As kind's importer: pinned, all platforms, not unpacked (the CRI unpacks on first use).
in_node ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - <"$work/images.tar" >/dev/null
rm -f "$work/images.tar"
imported=$(in_node ctr --namespace=k8s.io images list -q | grep -v '^sha256:' | sort)
for image in "${required_images[@]}"; do
  full=$image; [[ $full == */*/* || $full == *.*/* ]] || full=docker.io/$full
  grep -qx "$full" <<<"$imported" || { echo "kind-image: $full missing from the node's containerd; it has:" >&2; echo "$imported" >&2; exit 1; }
done
in_node pkill containerd || true
in_node bash -c 'for i in $(seq 1 20); do pgrep -x containerd >/dev/null || exit 0; sleep 0.5; done'
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/securevote-node-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' \
  --change "LABEL securevote.kind.inputs=$node_hash org.opencontainers.image.vendor=SecureVote org.opencontainers.image.version=$k8s_version" \
  "$id" "$NODE_IMAGE" >/dev/null
docker rm -f -v "$id" >/dev/null; trap - EXIT
done_ node "built $NODE_IMAGE ($(docker image inspect -f '{{ .Size }}' "$NODE_IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }'))"
printf '==> kind-image: ready in %ds: %s\n' $((SECONDS - total)) "$NODE_IMAGE" >&2
echo "$NODE_IMAGE"
