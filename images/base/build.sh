#!/usr/bin/env bash
# Builds the project's base image, securevote/base:bookworm-<UTC date>, from
# `debootstrap --variant=minbase bookworm` of the Debian mirror apt uses here,
# trimmed (no docs, man pages, locales; no apt lists), and `docker import`s it.
# Cached by date: the image when present, else the tarball in
# $SECUREVOTE_CACHE (outside the repo), else a fresh debootstrap.
# Also tags securevote/base:bookworm (the Dockerfiles' default BASE).
# Prints the dated tag on stdout.
set -euo pipefail

SUITE=bookworm
DATE=${BASE_DATE:-$(date -u +%Y%m%d)}
TAG=securevote/base:$SUITE-$DATE
CACHE=${SECUREVOTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/securevote}
TARBALL=$CACHE/base-$SUITE-$DATE.tar.gz
say() { echo "base: $*" >&2; }

# The first Debian URI apt uses (deb822 "URIs:" or one-line "deb URL SUITE"),
# and the security one if any; deb.debian.org when none is found.
mirror_for() {  # $1 = suite suffix to match ("" or "-security")
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$SUITE$1" '
      /^URIs:/ {uri=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==want) {print uri; exit}}
      /^deb / {u=$2; if ($2 ~ /^\[/) {u=$3; s=$4} else s=$3; if (s==want) {print u; exit}}
    ' "$f"
  done | grep -E 'debian' | head -n1
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "reusing $TAG"
else
  if [ ! -s "$TARBALL" ]; then
    MIRROR=$(mirror_for "")
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    SECURITY=$(mirror_for -security)
    "$(dirname "$0")/../../scripts/system-deps.sh" docker
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    say "debootstrap --variant=minbase $SUITE from $MIRROR"
    start=$SECONDS
    nice -n 10 debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
      || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
    rm -f "$root.log"
    # Later apt installs (in the Dockerfiles) skip docs and recommends too.
    cat >"$root/etc/dpkg/dpkg.cfg.d/01-securevote-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-include /usr/share/locale/locale.alias
CFG
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/01-securevote-norecommends"
    {
      echo "deb $MIRROR $SUITE main"
      echo "deb $MIRROR $SUITE-updates main"
      [ -n "$SECURITY" ] && echo "deb $SECURITY $SUITE-security main"
    } >"$root/etc/apt/sources.list"
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
      "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
      "$root"/var/cache/debconf/*-old "$root"/var/log/* "$root"/tmp/* "$root"/debootstrap
    tar -C "$root" --numeric-owner -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    say "debootstrap done in $((SECONDS - start)) s: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
  else
    say "reusing $TARBALL"
  fi
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE $DATE" \
    "$TARBALL" "$TAG" >/dev/null
fi
docker tag "$TAG" "securevote/base:$SUITE"
echo "$TAG"
