#!/usr/bin/env bash
# Ensures a Docker engine answers, starting Debian's dockerd only when none
# does, and stops only an engine this script started.
#
#   scripts/docker-engine.sh up [--privileged] [HOLDER_PID]
#   scripts/docker-engine.sh down [HOLDER_PID]
#   scripts/docker-engine.sh run [--privileged] -- CMD...   (up, CMD, down)
#   scripts/docker-engine.sh status
#
# Holders: every `up` takes a lease (a file named for HOLDER_PID, or "manual"
# when none is given); `down` drops that lease and stops dockerd only when
# this script started it and no live lease remains, so one test file can't
# pull the engine from under another, and an engine someone else runs is
# never stopped or reconfigured.
#
# Where root lacks CAP_SYS_RESOURCE (read from CapEff), a dockerd this script
# starts gets scripts/docker-runc-wrapper as its default runtime: runc asks
# for every capability in a privileged container (kind's nodes) and fails
# without it. Always, not only for `up --privileged`: the engine is shared, so
# whichever holder starts it must start one every later holder can use.
# Ordinary containers never ask for that capability, and nothing changes
# where root has it. --privileged only warns when an engine someone else
# started can't run privileged containers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
STATE=${SECUREVOTE_DOCKER_STATE:-/run/securevote-docker}
PIDFILE=$STATE/dockerd.pid    # written by dockerd itself
OURS=$STATE/started-by-us     # our record: the pid we started
LOG=$STATE/dockerd.log
LEASES=$STATE/leases

say() { echo "docker-engine: $*" >&2; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# The pid we started, if it is still a live dockerd.
our_pid() {
  [ -f "$OURS" ] || return 1
  local pid; pid=$(cat "$OURS")
  [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ] && echo "$pid"
}

# CAP_SYS_RESOURCE is capability 24.
lacks_sys_resource() {
  local eff; eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24 & 1) == 0 ))
}

live_leases() {
  local n=0 f holder
  for f in "$LEASES"/*; do
    [ -e "$f" ] || continue
    holder=$(basename "$f")
    if [ "$holder" = manual ] || kill -0 "$holder" 2>/dev/null; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo "$n"
}

start_dockerd() {
  [ "$(id -u)" = 0 ] || { say "no Docker engine answers and we are not root: start one (e.g. sudo systemctl start docker)"; return 1; }
  "$here/system-deps.sh" docker
  local args=(--pidfile "$PIDFILE" --log-level warn)
  if lacks_sys_resource; then
    say "root lacks CAP_SYS_RESOURCE: runc wrapped by scripts/docker-runc-wrapper"
    args+=(--add-runtime "securevote-runc=$here/docker-runc-wrapper" --default-runtime securevote-runc)
  fi
  rm -f "$PIDFILE"
  # setsid: dockerd outlives this shell and make's job control; its own log.
  setsid dockerd "${args[@]}" >>"$LOG" 2>&1 </dev/null 9>&- &
  echo $! >"$OURS"
  local i
  for i in $(seq 1 60); do
    engine_answers && { say "dockerd started (pid $(cat "$OURS"), log $LOG)"; return 0; }
    kill -0 "$(cat "$OURS")" 2>/dev/null || break
    sleep 1
  done
  say "dockerd did not answer; last lines of $LOG:"; tail -n 20 "$LOG" >&2
  rm -f "$OURS"
  return 1
}

stop_dockerd() {
  local pid; pid=$(our_pid) || { rm -f "$OURS"; return 0; }
  say "stopping the dockerd we started (pid $pid)"
  kill -TERM "$pid"
  local i
  for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then say "dockerd $pid still running after 30 s; left alone"; return 1; fi
  rm -f "$OURS"
}

cmd_up() {
  local privileged=${SECUREVOTE_DOCKER_PRIVILEGED:-0} holder=manual
  while [ $# -gt 0 ]; do
    case $1 in --privileged) privileged=1 ;; *) holder=$1 ;; esac
    shift
  done
  mkdir -p "$LEASES"
  exec 9>"$STATE/lock"; flock 9
  if ! engine_answers; then
    our_pid >/dev/null && { say "our dockerd runs but does not answer; see $LOG"; return 1; }
    start_dockerd
  elif [ "$privileged" = 1 ] && lacks_sys_resource && ! docker info --format '{{.DefaultRuntime}}' | grep -q securevote-runc; then
    say "warning: the running engine can't start privileged containers here (root lacks CAP_SYS_RESOURCE); it is left as it is"
  fi
  : >"$LEASES/$holder"
}

cmd_down() {
  local holder=${1:-manual}
  [ -d "$STATE" ] || return 0
  exec 9>"$STATE/lock"; flock 9
  rm -f "$LEASES/$holder"
  local n; n=$(live_leases)
  if ! our_pid >/dev/null; then return 0; fi
  if [ "$n" -gt 0 ]; then say "dockerd left running: $n other holder(s)"; return 0; fi
  stop_dockerd
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  run)
    shift; up_args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do up_args+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    cmd_up "${up_args[@]}" $$
    exec 9>&-
    rc=0; "$@" || rc=$?
    cmd_down $$
    exit $rc ;;
  status)
    if engine_answers; then
      if pid=$(our_pid); then echo "running (started by us, pid $pid, leases: $(mkdir -p "$LEASES"; live_leases))"; else echo "running (not ours)"; fi
    else echo "not running"; fi ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
