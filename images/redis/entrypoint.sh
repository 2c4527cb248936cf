#!/bin/bash
# Starts redis-server with /etc/securevote/redis.conf plus `requirepass` from
# REDIS_PASSWORD_FILE (default /run/secrets/securevote/redis-password), the whole config
# given on stdin (`redis-server -`): the password is never on a command line
# or on disk. Other arguments are passed through.
set -euo pipefail
if [ "${1:-}" = redis-server ]; then
  shift
  pwfile=${REDIS_PASSWORD_FILE:-/run/secrets/securevote/redis-password}
  [ -r "$pwfile" ] || { echo "redis: password file $pwfile is not readable by uid $(id -u)" >&2; exit 1; }
  pw=$(<"$pwfile")
  [ -n "$pw" ] || { echo "redis: password file $pwfile is empty" >&2; exit 1; }
  pw=${pw//\\/\\\\}; pw=${pw//\"/\\\"}
  exec redis-server - "$@" <<CONF
$(cat /etc/securevote/redis.conf)
requirepass "$pw"
CONF
fi
exec "$@"
