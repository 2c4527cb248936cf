#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those that are missing.
# Usage: scripts/system-deps.sh GROUP...   (groups: app, bench, browser, docker)
# Package services are never started by the install: the project starts its own
# servers, on its own ports, in its own directories.
set -euo pipefail

declare -A probe=(
  [postgresql]=/usr/lib/postgresql
  [redis-server]=/usr/bin/redis-server
  [nginx-light]=/usr/sbin/nginx
  [chromium]=/usr/bin/chromium
  [wrk]=/usr/bin/wrk
  [docker.io]=/usr/sbin/dockerd
  [debootstrap]=/usr/sbin/debootstrap
  [iproute2]=/usr/sbin/ip
  [curl]=/usr/bin/curl
  [unzip]=/usr/bin/unzip
  [openssl]=/usr/bin/openssl
)
declare -A groups=(
  [app]="postgresql redis-server nginx-light"
  [browser]="chromium"
  [bench]="postgresql wrk"
  [docker]="docker.io debootstrap iproute2"
  [controlplane]="curl unzip openssl"
)

missing=()
for g in "$@"; do
  [ -n "${groups[$g]:-}" ] || { echo "system-deps: unknown group '$g'" >&2; exit 2; }
  for p in ${groups[$g]}; do
    [ -e "${probe[$p]}" ] || missing+=("$p")
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 = "do not start services during install"; removed afterwards.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
