# shellcheck shell=bash
# Shared by the scripts/it/*.sh server scripts: source it after setting NAME.
#   log MSG…            a line on stderr, prefixed with the script's name
#   die MSG…            log and exit 1
#   stop_group PID [TENTHS]  SIGTERM the process group of PID (servers are started with setsid),
#                       wait up to TENTHS tenths of a second (default 50), then SIGKILL; returns 0
#                       when it ended by itself, 1 when it had to be killed.
log() { printf '[%s] %s\n' "${NAME:-it}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
stop_group() {
  local pid=$1 tenths=${2:-50} i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  return 1
}
