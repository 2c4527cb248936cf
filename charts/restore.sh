#!/bin/bash
# Starts a new instance's database from a verified backup: the init container
# of the database pod when the SecureVote names spec.restore (charts/backup.ts).
# Runs before PostgreSQL (the main container) and before any backend, in the
# database image, as the database's user.
#
# On an empty volume: check the file's sha256 against the one the backup
# recorded, initialize a cluster exactly as the image's entrypoint does (this
# instance's user and password), pg_restore into it on a private socket,
# check the vote count and sum against the recorded ones, and only then move
# the result to PGDATA. Any failure leaves PGDATA absent, so nothing starts
# on a partial database and the next try starts clean. On a volume that
# already holds a database (a restart after the restore), it does nothing.
#
# Environment (all set by the pod):
#   PGDATA POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD_FILE   as the entrypoint reads them
#   BACKUP_FILE      the dump, on the backup volume (mounted read-only)
#   BACKUP_SHA256 BACKUP_VOTES BACKUP_CHECKSUM   what the backup recorded
#   VOTES_SUM_SQL    the query the backup recorded them with (charts/backup.ts)
# Failure: the reason in the container's termination message (the operator
# reports it in the SecureVote's status) and exit 1.
set -euo pipefail

: "${PGDATA:?}" "${BACKUP_FILE:?}" "${BACKUP_SHA256:?}" "${BACKUP_VOTES:?}" "${BACKUP_CHECKSUM:?}" "${VOTES_SUM_SQL:?}"
TERMINATION_LOG=${TERMINATION_LOG:-/dev/termination-log}
ENTRYPOINT=${ENTRYPOINT:-docker-entrypoint.sh}
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
work=$PGDATA.restoring
socket=$(mktemp -d "${TMPDIR:-/tmp}/restore.XXXXXX")

say() { echo "restore: $*" >&2; }
refuse() {
  say "refused: $1"
  printf '%s\n' "restore refused: $1" >"$TERMINATION_LOG" 2>/dev/null || true
  pg_ctl -D "$work" -m immediate -s stop >/dev/null 2>&1 || true
  rm -rf "$work" "$socket"
  exit 1
}
trap 'refuse "unexpected error at line $LINENO"' ERR

if [ -s "$PGDATA/PG_VERSION" ]; then
  say "$PGDATA already holds a database; nothing to restore"
  exit 0
fi
name=$(basename "$BACKUP_FILE" .dump)
[ -r "$BACKUP_FILE" ] || refuse "backup $name: $BACKUP_FILE is missing from the backup volume"
sum=$(sha256sum "$BACKUP_FILE" | cut -d' ' -f1)
[ "$sum" = "$BACKUP_SHA256" ] \
  || refuse "backup $name failed verification: its file's sha256 is $sum, the backup recorded $BACKUP_SHA256 (the file changed after it was written)"

# The entrypoint's own first start (initdb, the password file, the database),
# into the side directory; `postgres --version` is the command it then runs.
rm -rf "$work"
PGDATA=$work "$ENTRYPOINT" postgres --version >/dev/null || refuse "backup $name: initializing the database failed"
pg_ctl -D "$work" -l "$socket/log" -w -t 120 -s -o "-c listen_addresses='' -k $socket" start \
  || refuse "backup $name: the restoring server did not start: $(tail -n 3 "$socket/log" | tr '\n' ' ')"
PGTZ=UTC pg_restore -h "$socket" -U "$user" -d "$db" --no-owner --no-privileges --exit-on-error "$BACKUP_FILE" \
  || refuse "backup $name: pg_restore failed"
got=$(PGTZ=UTC psql -X -q -A -t -h "$socket" -U "$user" -d "$db" -c "$VOTES_SUM_SQL")
[ "$got" = "$BACKUP_VOTES $BACKUP_CHECKSUM" ] \
  || refuse "backup $name: the restored votes ($got) differ from the recorded ones ($BACKUP_VOTES $BACKUP_CHECKSUM)"
pg_ctl -D "$work" -m fast -w -s stop
rm -rf "$socket"
mv "$work" "$PGDATA"
say "backup $name restored: $BACKUP_VOTES votes"
