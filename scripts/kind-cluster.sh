#!/usr/bin/env bash
# Creates (or deletes) a kind cluster from the node image kind-image.sh builds,
# when no other node image is named or present.
#
#   scripts/kind-cluster.sh up [NAME]     # default name: securevote; waits for Ready
#   scripts/kind-cluster.sh down [NAME]
#   scripts/kind-cluster.sh kind          # print the kind binary used
#   scripts/kind-cluster.sh kubectl       # print the kubectl used (the project's own, built once)
#   scripts/kind-cluster.sh image         # print the node image used (building ours if needed)
#   scripts/kind-cluster.sh image-name    # the same name, never building
#
# kind: KIND, else `kind` on PATH, else ours from the build cache (built once).
# kubectl: always ours from the build cache (built once), the release the node
# image runs; whatever kubectl a machine has on PATH is never used.
# Node image: KIND_NODE_IMAGE / SECUREVOTE_KIND_NODE_IMAGE, else kindest/node:<v>
# when the engine has it, else securevote/kind-node:<v> (scripts/kind-image.sh).
# Config: KIND_CONFIG, else dist/kind/cluster.yaml (make synth: the seed's log rotation), plus
# workers up to NODES nodes (default 1; all schedulable) and, on a cgroup v1
# host, the kubelet's failCgroupV1: false, written to $WORK/kind/cluster-<name>.yaml.
# The kubeconfig: kind's ($KUBECONFIG, else ~/.kube/config), context kind-<name>.
# Needs a Docker engine that runs privileged containers (make kind-up starts
# one: scripts/docker-engine.sh up --privileged).
set -euo pipefail
shopt -s inherit_errexit # a failing step inside $(...) stops the script too

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work="${WORK:-$root/.work}/kind"
k8s_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$root/test/controlplane/go.mod")

kind_bin() {
  if [[ -n "${KIND:-}" && "${KIND}" != kind ]]; then echo "$KIND"; return; fi
  if command -v kind >/dev/null; then command -v kind; return; fi
  local p; p=$("$root/scripts/controlplane-build.sh" --path kind)
  [[ -x $p ]] || nice -n 15 "$root/scripts/controlplane-build.sh" kind >&2
  echo "$p"
}

kubectl_bin() {
  local p; p=$("$root/scripts/controlplane-build.sh" --path kubectl)
  [[ -x $p ]] || nice -n 15 "$root/scripts/controlplane-build.sh" kubectl >&2
  echo "$p"
}

node_image() {
  local named=${KIND_NODE_IMAGE:-${SECUREVOTE_KIND_NODE_IMAGE:-}}
  if [[ -n $named ]]; then echo "$named"; return; fi
  if docker image inspect "kindest/node:$k8s_version" >/dev/null 2>&1; then echo "kindest/node:$k8s_version"; return; fi
  "$root/scripts/kind-image.sh" | tail -n 1
}

config() { # <name> -> path of the kind config to use
  local out=$work/cluster-$1.yaml src=${KIND_CONFIG:-$root/dist/kind/cluster.yaml}
  [[ -f $src ]] || { echo "kind-cluster: no kind config at $src (make synth writes it; or set KIND_CONFIG)" >&2; exit 1; }
  mkdir -p "$work"
  cp "$src" "$out.tmp"
  # NODES=n: workers up to n nodes, each kubelet configured as the first node's.
  # cgroup v1: Kubernetes 1.35 refuses it by default; say so explicitly here.
  local v1=no; [[ -f /sys/fs/cgroup/cgroup.controllers ]] || v1=yes
  (cd "$root" && node -e '
    const fs = require("node:fs"); const YAML = require("yaml");
    const [file, nodes, v1] = process.argv.slice(1);
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    const list = doc.get("nodes");
    const first = list.items[0];
    for (let i = list.items.length; i < Number(nodes); i++) {
      const worker = doc.createNode({ role: "worker" });
      const patches = first.get("kubeadmConfigPatches");
      if (patches) worker.set("kubeadmConfigPatches", patches.clone());
      list.add(worker);
    }
    if (v1 === "yes") {
      for (const n of list.items) {
        const patches = n.get("kubeadmConfigPatches") ?? doc.createNode([]);
        patches.add("kind: KubeletConfiguration\nfailCgroupV1: false\n");
        n.set("kubeadmConfigPatches", patches);
      }
      doc.commentBefore = " plus failCgroupV1: false (this host is on cgroup v1)";
    }
    fs.writeFileSync(file, doc.toString());
  ' "$out.tmp" "${NODES:-1}" "$v1")
  mv "$out.tmp" "$out"
  echo "$out"
}

cmd=${1:-}; name=${2:-securevote}
case $cmd in
  up)
    kind=$(kind_bin); kubectl=$(kubectl_bin)
    if "$kind" get clusters 2>/dev/null | grep -qx "$name"; then echo "kind-cluster: $name exists" >&2; exit 0; fi
    image=$(node_image); cfg=$(config "$name")
    echo "kind-cluster: creating $name from $image ($cfg)" >&2
    start=$SECONDS
    "$kind" create cluster --name "$name" --config "$cfg" --image "$image" --wait 300s
    k=("$kubectl" --context "kind-$name")
    if [[ $("${k[@]}" get nodes -o name | wc -l) == 1 ]]; then
      # One node: a second CoreDNS replica adds no availability, only 100m of CPU
      # requests, which a 2-core machine needs for the stack.
      "${k[@]}" -n kube-system scale deployment coredns --replicas=1
    else
      # Several: every node takes pods, the control plane's too (kind taints it
      # once there are workers), so three nodes are three places to spread to.
      "${k[@]}" taint nodes -l node-role.kubernetes.io/control-plane node-role.kubernetes.io/control-plane:NoSchedule-
      "${k[@]}" wait --for=condition=Ready nodes --all --timeout=180s
    fi
    # The resource metrics API (kubectl top, autoscalers), when the node image carries it (ours does).
    if docker exec "$name-control-plane" test -f /kind/manifests/metrics-server.yaml; then
      docker exec "$name-control-plane" kubectl --kubeconfig=/etc/kubernetes/admin.conf apply -f /kind/manifests/metrics-server.yaml >/dev/null
      echo "kind-cluster: metrics-server installed" >&2
    fi
    echo "kind-cluster: $name Ready in $((SECONDS - start))s" >&2 ;;
  down)
    kind=$(kind_bin)
    if "$kind" get clusters 2>/dev/null | grep -qx "$name"; then "$kind" delete cluster --name "$name"; fi ;;
  kind) kind_bin ;;
  kubectl) kubectl_bin ;;
  image) node_image ;;
  image-name)  # the node image `image` gives, without building it
    if [[ -n ${KIND_NODE_IMAGE:-${SECUREVOTE_KIND_NODE_IMAGE:-}} ]]; then echo "${KIND_NODE_IMAGE:-$SECUREVOTE_KIND_NODE_IMAGE}"
    elif docker image inspect "kindest/node:$k8s_version" >/dev/null 2>&1; then echo "kindest/node:$k8s_version"
    else echo "${SECUREVOTE_KIND_NODE_IMAGE_NAME:-securevote/kind-node:$k8s_version}"; fi ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
