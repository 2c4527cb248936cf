#!/bin/bash
# The official postgres image's contract, written for this image: on the first
# start (empty PGDATA) initdb with POSTGRES_USER and the password from
# POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD), create POSTGRES_DB, allow
# scram-sha-256 logins from the network; then exec postgres as PID 1.
# The password goes through a file (initdb --pwfile), never a command line.
set -euo pipefail

if [ "${1:-}" = postgres ] || [ "${1:0:1}" = - ]; then
  [ "${1:0:1}" = - ] && set -- postgres "$@"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=${POSTGRES_PASSWORD_FILE:-}
    if [ -z "$pwfile" ]; then
      [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "postgres: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2; exit 1; }
      pwdir=$(mktemp -d /var/run/postgresql/pw.XXXXXX)
      pwfile=$pwdir/pw
      printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    fi
    [ -r "$pwfile" ] || { echo "postgres: $pwfile is not readable by uid $(id -u)" >&2; exit 1; }
    mkdir -p "$PGDATA" && chmod 0700 "$PGDATA"
    echo "postgres: initdb in $PGDATA (user $user, database $db)"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
    [ -n "${pwdir:-}" ] && rm -rf "$pwdir"
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
      # Single-user mode: no server, no socket, nothing listening yet.
      echo "CREATE DATABASE \"${db//\"/\"\"}\" OWNER \"${user//\"/\"\"}\";" \
        | postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres: initialized"
  fi
fi
exec "$@"
