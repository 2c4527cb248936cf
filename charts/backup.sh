#!/bin/bash
# One SecureVote backup, run by a Job in the database image (charts/backup.ts):
# a consistent `pg_dump -Fc` of the live database, restored into a throwaway
# PostgreSQL inside this pod and checked before it counts. Only a verified
# backup is kept; then the volume keeps the newest $KEEP of this instance's.
#
# Consistency: one REPEATABLE READ transaction exports its snapshot; pg_dump
# dumps that very snapshot, and the same transaction counts the votes and
# sums them, so what the backup records is exactly what the file holds, while
# votes keep flowing (nothing is locked but against DDL).
#
# Environment (all set by the Job):
#   SECUREVOTE      the instance: its backups live in $BACKUP_DIR/$SECUREVOTE/
#   BACKUP_NAME     this backup (the SecureVoteBackup's name): NAME.dump, NAME.json
#   BACKUP_DIR      where the backup volume is mounted
#   KEEP            how many verified backups of the instance the volume keeps
#   PGHOST PGPORT PGUSER PGDATABASE   the live database
#   PGPASSWORD_FILE its password (a mounted Secret file; never in the environment)
#   SCRATCH         a writable directory for the throwaway database (default /tmp)
#   VOTES_SUM_SQL   the query answering "COUNT MD5" over every vote (charts/backup.ts)
# Result: one JSON object in $BACKUP_DIR/$SECUREVOTE/NAME.json and in the
# container's termination message, which the operator reads.
set -euo pipefail

: "${SECUREVOTE:?}" "${BACKUP_NAME:?}" "${BACKUP_DIR:?}" "${KEEP:?}" "${PGPASSWORD_FILE:?}" "${VOTES_SUM_SQL:?}"
SCRATCH=${SCRATCH:-/tmp}
TERMINATION_LOG=${TERMINATION_LOG:-/dev/termination-log}
dir=$BACKUP_DIR/$SECUREVOTE
part=$dir/.$BACKUP_NAME.partial
verify=$SCRATCH/verify

say() { echo "backup $BACKUP_NAME: $*" >&2; }
# JSON string: our own messages and names only (no control characters).
json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
report() { printf '%s\n' "$1" >"$TERMINATION_LOG" 2>/dev/null || true; printf '%s\n' "$1"; }
fail() {
  say "failed: $1"
  rm -f "$part"
  report "{\"verified\":false,\"message\":$(json "$1")}"
  exit 1
}
trap 'fail "unexpected error at line $LINENO"' ERR


mkdir -p "$dir"
umask 077
pgpass=$SCRATCH/pgpass
# A .pgpass line: ':' and '\' escaped; the password never reaches argv or env.
printf '*:*:*:*:%s\n' "$(sed 's/[\\:]/\\&/g' "$PGPASSWORD_FILE")" >"$pgpass"
export PGPASSFILE=$pgpass PGCONNECT_TIMEOUT=10 PGTZ=UTC
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# 0. Wait for the database to answer (bounded): a new pod's network policy
# rules can lag its start by seconds (the policy controller syncs on pod
# events), and until then the database refuses it.
for i in $(seq 1 45); do
  pg_isready -q -t 2 && break
  [ "$i" = 45 ] && fail "the database did not answer within 90 s: $(pg_isready -t 2 2>&1 || true)"
  sleep 2
done

# 1. The snapshot, held open by a psql beside this shell.
coproc PSQL { exec psql -X -q -A -t -v ON_ERROR_STOP=1 2>&1; }
psql_pid=$PSQL_PID  # bash unsets PSQL_PID once the coprocess exits
exec {to_psql}>&"${PSQL[1]}" {from_psql}<&"${PSQL[0]}"
# One statement in, one line out (in REPLY; no subshell, so fail exits this shell).
ask() {
  printf '%s\n' "$1" >&"$to_psql"
  IFS= read -r -t 120 REPLY <&"$from_psql" || fail "the live database did not answer"
}
ask "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();"
snapshot=$REPLY
[[ $snapshot =~ ^[0-9A-F-]+$ ]] || fail "could not open a snapshot: $snapshot"
say "snapshot $snapshot"

# 2. The dump of that snapshot, then the count and sum in the same transaction.
nice -n 10 pg_dump --snapshot="$snapshot" --format=custom --compress=6 --no-owner --no-privileges --file="$part" \
  || fail "pg_dump failed"
ask "$VOTES_SUM_SQL"
recorded=$REPLY
ask "COMMIT; SELECT 'done';"
printf '\\q\n' >&"$to_psql"
wait "$psql_pid" 2>/dev/null || true
[[ $recorded =~ ^([0-9]+)\ ([0-9a-f]{32})$ ]] || fail "could not count the votes: $recorded"
votes=${BASH_REMATCH[1]} checksum=${BASH_REMATCH[2]}
size=$(stat -c %s "$part")
sha256=$(sha256sum "$part" | cut -d' ' -f1)
say "dumped $votes votes, $size bytes"

# 3. Verify: restore into a throwaway server (socket only, no network) and sum
# again, at a lower CPU priority: on a shared node the live votes come first.
rm -rf "$verify" && mkdir -p "$verify/socket"
initdb -D "$verify/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
  || fail "verification: initdb failed"
nice -n 10 pg_ctl -D "$verify/data" -l "$verify/log" -w -t 60 -s \
  -o "-c listen_addresses='' -k $verify/socket -c fsync=off -c shared_buffers=16MB -c max_connections=5" start \
  || fail "verification: the throwaway server did not start: $(tail -n 3 "$verify/log" | tr '\n' ' ')"
stop_verify() { pg_ctl -D "$verify/data" -m immediate -s stop >/dev/null 2>&1 || true; rm -rf "$verify"; }
restored=
if createdb -h "$verify/socket" -U postgres verify \
  && nice -n 10 pg_restore -h "$verify/socket" -U postgres -d verify --no-owner --no-privileges --exit-on-error "$part"; then
  restored=$(psql -X -q -A -t -h "$verify/socket" -U postgres -d verify -c "$VOTES_SUM_SQL" 2>&1) || restored=
fi
stop_verify
[ -n "$restored" ] || fail "verification: the dump did not restore"
[ "$restored" = "$votes $checksum" ] \
  || fail "verification: the restored votes ($restored) differ from the recorded ones ($votes $checksum)"

# 4. Keep it, then keep only the newest $KEEP verified backups of this instance.
completed=$(date -u +%Y-%m-%dT%H:%M:%SZ)
result="{\"verified\":true,\"file\":$(json "$SECUREVOTE/$BACKUP_NAME.dump"),\"size\":$size,\"sha256\":\"$sha256\",\"votes\":$votes,\"checksum\":\"$checksum\",\"startedAt\":\"$started\",\"completedAt\":\"$completed\"}"
mv "$part" "$dir/$BACKUP_NAME.dump"
printf '%s\n' "$result" >"$dir/$BACKUP_NAME.json.partial" && mv "$dir/$BACKUP_NAME.json.partial" "$dir/$BACKUP_NAME.json"
sync "$dir" 2>/dev/null || true
# Only verified backups reach the volume, so every manifest counts; newest by its write.
mapfile -t old < <(ls -1t "$dir"/*.json | tail -n +"$((KEEP + 1))")
for m in "${old[@]}"; do
  say "retention: removing $(basename "$m" .json)"
  rm -f "${m%.json}.dump" "$m"
done
say "verified: $votes votes, sha256 $sha256"
report "$result"
