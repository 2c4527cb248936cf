#!/usr/bin/env bash
# Loads images from the local Docker engine into every node of a kind cluster.
#
#   scripts/kind-load.sh CLUSTER IMAGE...
#
# What `kind load docker-image` does (one `docker save`, imported into each
# node's containerd, the nodes at once), except that the layers are not
# unpacked: containerd's CRI unpacks an image the first time a container of
# it is created, so each node unpacks only the images it runs, when it runs
# them, instead of every image at load time. 15 images into 3 nodes on 2
# cores: 40 s against kind's 69 s (BENCHMARKS.md). As kind's, an image a
# node already has (same ID) is not loaded again. kind: KIND, else the one
# scripts/kind-cluster.sh finds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
(($# >= 2)) || { echo "usage: $0 CLUSTER IMAGE..." >&2; exit 2; }
cluster=$1; shift
kind=${KIND:-$("$root/scripts/kind-cluster.sh" kind)}
mapfile -t nodes < <("$kind" get nodes --name "$cluster")
((${#nodes[@]} > 0)) || { echo "kind-load: cluster $cluster has no nodes (kind get clusters lists those there are)" >&2; exit 1; }

# The nodes missing an image (by ID), and the images missing somewhere.
declare -A id
for image in "$@"; do id[$image]=$(docker image inspect -f '{{.Id}}' "$image"); done
targets=() missing=()
for n in "${nodes[@]}"; do
  have=$(docker exec "$n" crictl images --no-trunc 2>/dev/null | awk 'NR > 1 { print $1 ":" $2 " " $3 }')
  lacks=0
  for image in "$@"; do
    full=$image; [[ $full == */*/* || $full == *.*/* ]] || full=docker.io/$full
    grep -qxF "$full ${id[$image]}" <<<"$have" && continue
    lacks=1
    [[ " ${missing[*]} " == *" $image "* ]] || missing+=("$image")
  done
  ((lacks)) && targets+=("$n")
done
((${#missing[@]} > 0)) || exit 0

archive=$(mktemp "${TMPDIR:-/tmp}/securevote-kind-load.XXXXXX")
trap 'rm -f "$archive"' EXIT
docker save -o "$archive" "${missing[@]}"

nodes=("${targets[@]}")
pids=()
for n in "${nodes[@]}"; do
  docker exec -i "$n" ctr --namespace=k8s.io images import --all-platforms --digests --no-unpack - <"$archive" >/dev/null &
  pids+=("$!")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "kind-load: importing into ${nodes[$i]} failed" >&2; failed=1; }
done
exit "$failed"
